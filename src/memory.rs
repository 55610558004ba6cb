//! The allocator's share of resident memory (glibc's malloc, which the service runs on in Linux).
//!
//! glibc gives threads that allocate at once arenas of their own, up to eight per core, and each
//! keeps what was freed in it for reuse: with a database thread per pooled connection that is
//! megabytes held for nothing. Two arenas serve the HTTP workers and the database threads without
//! contention worth measuring. Start-up (the OpenAPI document, the seed data) frees several
//! megabytes that malloc would otherwise keep: they are handed back once the server is built.

/// Caps the number of malloc arenas; called first thing, before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; no thread allocates yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns memory freed so far to the operating system.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
