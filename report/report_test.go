package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dqnn/dqnn/bench"
	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/report"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

const example = "../examples/mnist_bnn/mnist_bnn.h5"

type model struct{ name, path, weights, inputs string }

func models(t *testing.T) []model {
	ms := []model{{name: "example", path: example, inputs: "../examples/mnist_bnn/samples.inputs.npy"}}
	if testing.Short() {
		return ms
	}
	dir := sharedmodels.Require(t, "qkeras")
	return append(ms,
		model{name: "RN07", path: filepath.Join(dir, "mlperf-tiny-v0.7/RN07_model_best.h5")},
		model{name: "qkeras_mnist_cnn", path: filepath.Join(dir, "example-models/qkeras_mnist_cnn.json"), weights: filepath.Join(dir, "example-models/qkeras_mnist_cnn_weights.h5")})
}

// render builds the inputs of a model's page: the compiled library, its
// instruction counts on Cortex-M4 and its validation (on the host, with the
// model's samples or random ones).
func render(t *testing.T, m model) (report.Inputs, []byte) {
	t.Helper()
	g, err := keras.Load(m.path, keras.Options{Weights: m.weights})
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(g, compiler.Options{Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	in := report.Inputs{Result: res, Commands: report.Commands{Report: "dqnn report " + m.name, Analyze: "dqnn analyze " + m.name}}
	ctx := context.Background()
	testenv.Need(t, "QEMU for cortex-m4", target.Available(target.CortexM4))
	st, err := compiler.Stack(ctx, res, "m", target.CortexM4)
	if err != nil {
		t.Fatal(err)
	}
	res.Report.AddStack(st)
	if in.Bench, err = bench.Model(ctx, g, validate.Library{Name: "m", Files: res.Files, Lowered: res.Graph}, target.CortexM4, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	vopt := validate.Options{Model: m.path, Samples: 2, CheckOptions: validate.CheckOptions{Target: target.Host, PerLayer: true}}
	if m.inputs != "" {
		vopt.Inputs = []string{m.inputs}
	}
	if in.Validate, err = validate.Run(ctx, g, vopt); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := report.Render(&b, in); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	report.Render(&again, in)
	if !bytes.Equal(b.Bytes(), again.Bytes()) {
		t.Error("two renderings of the same inputs differ")
	}
	return in, b.Bytes()
}

// TestReportInChromium renders the page for the example and two real models,
// opens each in headless Chromium from disk, and checks that it loads with no
// console message, that the DOM has one box per C-layer, one bar per layer
// in each chart and one rectangle per planned tensor, that the embedded
// figures are the analyze and bench reports, and that nothing is fetched
// from the network. A screenshot is left in the test's artifact directory.
func TestReportInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("short: the browser test runs in the full suite")
	}
	chromium := testenv.NeedCmd(t, "chromium")
	for _, m := range models(t) {
		t.Run(m.name, func(t *testing.T) {
			in, page := render(t, m)
			html := string(page)
			for _, u := range regexp.MustCompile(`(?:src|href)="([^"#][^"]*)"`).FindAllStringSubmatch(html, -1) {
				t.Errorf("the page loads %q; it must be self-contained", u[1])
			}
			if strings.Contains(html, "<script>") || strings.Contains(html, "<script src") {
				t.Error("the page runs a script")
			}
			checkEmbedded(t, html, "dqnn-analyze", in.Result.Report)
			checkEmbedded(t, html, "dqnn-bench", in.Bench)

			dir := t.ArtifactDir()
			file := filepath.Join(dir, m.name+".html")
			if err := os.WriteFile(file, page, 0o644); err != nil {
				t.Fatal(err)
			}
			dom, logs := runChromium(t, chromium, "--dump-dom", "file://"+file)
			if c := regexp.MustCompile(`(?m)^.*:CONSOLE.*$`).FindAllString(logs, -1); len(c) > 0 {
				t.Errorf("console messages:\n%s", strings.Join(c, "\n"))
			}
			layers := len(in.Result.Report.Layers)
			count := func(pattern string) int { return len(regexp.MustCompile(pattern).FindAllString(dom, -1)) }
			if n := count(`<g class="clayer[^"]*" data-cid=`); n != layers {
				t.Errorf("%d layer boxes in the DOM, want %d", n, layers)
			}
			if n, charts := count(`<rect class="bar `), 3; n != charts*layers {
				t.Errorf("%d bars in the DOM, want %d per chart × %d charts", n, layers, charts)
			}
			if n := count(`<rect class="tensor"`); n != len(in.Result.Plan.Live) {
				t.Errorf("%d tensor rectangles in the memory plan, want %d", n, len(in.Result.Plan.Live))
			}
			if n := count(`<rect class="stack"`); n != 1 {
				t.Errorf("%d stack rectangles beside the memory plan, want 1", n)
			}
			if n := count(`<tr class="agree">`); n != len(in.Validate.Layers) {
				t.Errorf("%d agreement rows, want %d", n, len(in.Validate.Layers))
			}
			if !strings.Contains(dom, "The costliest layer is c_id") || !(strings.Contains(dom, "Nothing fell back to f32") || strings.Contains(dom, "fell back to another kernel")) {
				t.Error("the page does not say which layer costs most and whether anything fell back")
			}
			png := filepath.Join(dir, m.name+".png")
			runChromium(t, chromium, "--window-size=1280,1600", "--screenshot="+png, "file://"+file)
			if st, err := os.Stat(png); err != nil || st.Size() < 10000 {
				t.Errorf("no screenshot: %v", err)
			}
			t.Logf("page and screenshot in %s", dir)
		})
	}
}

// checkEmbedded: the JSON embedded under id is exactly want marshalled.
func checkEmbedded(t *testing.T, html, id string, want any) {
	t.Helper()
	m := regexp.MustCompile(`<script type="application/json" id="` + id + `">([^<]*)</script>`).FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no embedded %s", id)
	}
	w, _ := json.Marshal(want)
	var a, b any
	if err := json.Unmarshal([]byte(m[1]), &a); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	json.Unmarshal(w, &b)
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	if !bytes.Equal(aj, bj) {
		t.Errorf("embedded %s differs from the report", id)
	}
}

func runChromium(t *testing.T, chromium string, args ...string) (stdout, logs string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.String(), errb.String()
}
