//! Test workload: opens directory DIR, then file NAME relative to it N times with
//! openat(dirfd, NAME), closing each; prints the directory's fd and each file fd.

use std::ffi::CString;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (count, dir, name) = match args.as_slice() {
        [_, n, dir, name] => (n.parse::<u32>().expect("opener: N"), dir, name),
        _ => {
            eprintln!("usage: opener N DIR NAME");
            std::process::exit(2);
        }
    };
    let dir = CString::new(dir.as_str()).expect("opener: DIR");
    let name = CString::new(name.as_str()).expect("opener: NAME");
    // SAFETY: plain libc calls with NUL-terminated strings that outlive them.
    unsafe {
        let dirfd = libc::open(dir.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        assert!(dirfd >= 0, "opener: cannot open the directory");
        println!("dir {dirfd}");
        for _ in 0..count {
            let fd = libc::openat(dirfd, name.as_ptr(), libc::O_RDONLY);
            assert!(fd >= 0, "opener: cannot open the file");
            println!("fd {fd}");
            libc::close(fd);
        }
    }
}
