//! A global allocator that tallies the allocations of the current thread,
//! for the allocation tests (`tests/allocations.rs`,
//! `tests/hedge_allocations.rs`, and the tonic member's, which includes this
//! file by path).
//!
//! It needs `unsafe` for `GlobalAlloc`; the library itself forbids it.

#![allow(dead_code)] // each test file uses a part of it

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call forwards to the system allocator unchanged; counting
// touches only a const-initialised thread-local, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// The allocations this thread has made so far.
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Runs `make()`'s future twice on a paused current-thread runtime (the
/// first run warms up the runtime, its timer and the thread's random
/// generator) and returns the allocations of the second run.
pub fn allocations_of<F: Future>(mut make: impl FnMut() -> F) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(make());
    let before = allocations();
    rt.block_on(make());
    allocations() - before
}
