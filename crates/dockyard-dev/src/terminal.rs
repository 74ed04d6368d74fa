//! [`RawTerminal`]: the host terminal in raw mode while an interactive one-off command (`cargo xtask dev --
//! manage.py shell`) owns it, so keys reach the container's TTY as typed and echo once; restored on drop.

use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, Termios};

/// The terminal on stdin in raw mode; the previous mode comes back when this is dropped.
pub struct RawTerminal {
    saved: Termios,
}

impl RawTerminal {
    /// Puts stdin's terminal in raw mode; `None` when stdin is not a terminal.
    pub fn enter() -> Option<RawTerminal> {
        let stdin = rustix::stdio::stdin();
        let saved = tcgetattr(stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &self.saved);
    }
}
