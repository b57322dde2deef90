/*
 * Firmware example: classify one embedded MNIST sample with the mnist_bnn
 * library that dqnn generates at build time (//examples/firmware:mnist_bnn),
 * print the predicted class and exit 0 when it matches the class of the
 * reference output (samples.expected.npy, from the numpy oracle).
 */
#include <stdint.h>
#include <string.h>

#include "io.h"
#include "mnist_bnn.h"
#include "sample.h"

/* Compile-time checks (C99 has no _Static_assert): the sample must have the
 * model's input and output sizes. */
typedef char input_size_matches[(sizeof sample_input / sizeof sample_input[0]) == MNIST_BNN_IN_SIZE ? 1 : -1];
typedef char output_size_matches[(sizeof sample_expected / sizeof sample_expected[0]) == MNIST_BNN_OUT_SIZE ? 1 : -1];

static float input[MNIST_BNN_IN_SIZE];
static float output[MNIST_BNN_OUT_SIZE];
static float expected[MNIST_BNN_OUT_SIZE];

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (v[i] > v[best]) {
            best = i;
        }
    }
    return best;
}

int main(void)
{
    /* The sample is stored as float32 bit patterns, so it is exact. */
    memcpy(input, sample_input, sizeof input);
    memcpy(expected, sample_expected, sizeof expected);

    int status = mnist_bnn_run(input, output);
    if (status != 0) {
        io_puts("mnist_bnn_run failed: status ");
        io_putint(status);
        io_puts("\n");
        return 2;
    }
    int predicted = argmax(output, MNIST_BNN_OUT_SIZE);
    int reference = argmax(expected, MNIST_BNN_OUT_SIZE);
    io_puts("mnist_bnn: predicted class ");
    io_putint(predicted);
    io_puts(" (reference ");
    io_putint(reference);
    io_puts(")\n");
    return predicted == reference ? 0 : 1;
}
