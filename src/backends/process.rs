//! What a load generator does to its own process: raise the open-files limit before a load,
//! and give freed heap back to the OS between variants (so the next one's RSS starts from what
//! is live).

/// Raises the open-files soft limit to the hard limit (a closed loop holds a connection per
/// user to each service); `(before, after)`.
pub fn raise_fd_limit() -> std::io::Result<(u64, u64)> {
    mock_services::server::raise_fd_limit()
}

/// Gives the memory earlier variants freed back to the OS (glibc's `malloc_trim`), so the next
/// variant's RSS starts from what is live rather than from what the allocator kept.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the OS; it touches no live memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
