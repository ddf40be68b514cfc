//! tapir
