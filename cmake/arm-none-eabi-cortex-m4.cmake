# CMake toolchain file: Debian's arm-none-eabi-gcc with newlib, for Cortex-M4F
# (hard-float FPv4-SP, Thumb-2).
#
#   cmake -S . -B build-m4 -DCMAKE_TOOLCHAIN_FILE=path/to/dqnn/cmake/arm-none-eabi-cortex-m4.cmake
#
# Compiling a dqnn library needs nothing more. Linking a bare-metal program
# is the application's business: its startup code and linker script
# (target_link_options(app PRIVATE -T board.ld)), and system calls for the C
# library, which --specs=nosys.specs below stubs out (replace it with your own
# _write/_sbrk, or rdimon.specs for semihosting).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
# A bare-metal executable cannot link without a linker script: test the
# compiler by building a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mthumb")
set(CMAKE_ASM_FLAGS_INIT "-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mthumb")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nosys.specs")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
