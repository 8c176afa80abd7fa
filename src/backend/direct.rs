//! Writing new files with O_DIRECT where the file system supports it.
//!
//! Pack files are written once and not read back during a backup, so
//! copying them through the page cache only costs CPU and evicts the
//! application's own cached data. Large writes therefore bypass the cache;
//! file systems without O_DIRECT (tmpfs) get an ordinary buffered write.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

const ALIGN: usize = 4096;
/// Smaller writes are not worth the bypass.
const DIRECT_MIN: usize = 1 << 20;
/// Bytes copied into the aligned buffer and written per system call.
const PIECE: usize = 1 << 20;

/// A 4096-byte aligned buffer of `PIECE` bytes (O_DIRECT needs aligned memory).
struct Aligned(*mut u8);

impl Aligned {
    fn layout() -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(PIECE, ALIGN).expect("valid layout")
    }
    fn new() -> Self {
        // SAFETY: the layout has non-zero size; a null result is handled.
        let ptr = unsafe { std::alloc::alloc_zeroed(Self::layout()) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(Self::layout());
        }
        Aligned(ptr)
    }
    /// Copy `src` (at most `PIECE` bytes) in and return it as an aligned slice.
    fn load(&mut self, src: &[u8]) -> &[u8] {
        assert!(src.len() <= PIECE);
        // SAFETY: the buffer is PIECE bytes, initialised at allocation, owned
        // by self; src does not overlap it.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.0, src.len());
            std::slice::from_raw_parts(self.0, src.len())
        }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in new() with this layout.
        unsafe { std::alloc::dealloc(self.0, Self::layout()) }
    }
}

thread_local! {
    static SCRATCH: RefCell<Option<Aligned>> = const { RefCell::new(None) };
}

fn set_direct(f: &File, on: bool) -> io::Result<()> {
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on an open descriptor with integer arguments.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    let flags = if on { flags | libc::O_DIRECT } else { flags & !libc::O_DIRECT };
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Create `path` (which must not exist), write `data` and fsync it.
pub fn write_new_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    let aligned = data.len() / ALIGN * ALIGN;
    if data.len() >= DIRECT_MIN && set_direct(&f, true).is_ok() {
        let direct = SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let buf = s.get_or_insert_with(Aligned::new);
            data[..aligned].chunks(PIECE).try_for_each(|piece| f.write_all(buf.load(piece)))
        });
        set_direct(&f, false)?;
        match direct {
            Ok(()) => {
                f.write_all(&data[aligned..])?;
                return f.sync_all();
            }
            // Some file systems accept the flag but refuse the write.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                f.set_len(0)?;
                f.rewind()?;
            }
            Err(e) => return Err(e),
        }
    }
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    #[test]
    fn odd_sizes_round_trip() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        for len in [0usize, 4095, 1 << 20, (3 << 20) + 123, 5 << 20] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4096) as u8).collect();
            let p = dir.path().join(format!("f{len}"));
            super::write_new_synced(&p, &data).unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), data, "length {len}");
            assert!(super::write_new_synced(&p, &data).is_err(), "must not overwrite");
        }
    }
}
