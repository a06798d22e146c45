// The one source of promoter_test_pch: a target exists to own the test binaries' precompiled header
// (tests/CMakeLists.txt), and CMake needs a source to build it from.
