//! `wire`: `secondaryd::wire::parse_message` on any bytes never panics. The
//! outcome signature is the error without its numbers, or the section counts.

use crate::mutate::without_numbers;

pub struct Wire;

impl crate::Target for Wire {
    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        Ok(match secondaryd::wire::parse_message(input) {
            Ok(m) => format!(
                "ok qd{} an{} ns{} ar{} opt{} tsig{}",
                m.questions.len().min(3),
                m.answers.len().min(4),
                m.authority.len().min(4),
                m.additional.len().min(4),
                u8::from(m.opt.is_some()),
                u8::from(m.tsig.is_some())
            ),
            Err(e) => without_numbers(&e.to_string()),
        })
    }
}
