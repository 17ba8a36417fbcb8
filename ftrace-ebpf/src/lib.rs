#![no_std]
// The programs live in main.rs (a bin target, linked by bpf-linker); this library target
// only exists so ftrace-user can declare a build-dependency that triggers rebuilds.
