//! Cache hints for the simulator's own memory: a caller that knows what it will read a
//! little later asks the CPU to start loading it now. Invariant: a hint never changes a
//! result; it can only make a run faster (or, misused, a little slower).

/// Asks the CPU to load the cache line holding `p` (a no-op where no prefetch
/// instruction is available). Any address is allowed: nothing is read.
#[inline(always)]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it never faults and reads nothing the
    // program can observe, whatever the address. SSE, which it needs, is part of x86_64.
    #[allow(unsafe_code)]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Asks the CPU to load the cache lines of `value`: every one when `T` is aligned to
/// a line, else one per 64 bytes from its start (which may miss the last).
#[inline(always)]
pub fn prefetch_all<T>(value: &T) {
    let p: *const T = value;
    let p = p.cast::<u8>();
    let mut offset = 0;
    while offset < std::mem::size_of::<T>() {
        prefetch(p.wrapping_add(offset));
        offset += 64;
    }
}
