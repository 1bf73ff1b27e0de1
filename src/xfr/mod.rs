//! Zone transfers (placeholder).
