//! `secondaryctl reload`: the daemon re-reads its config file.

use secondaryd::model::Reloaded;

use crate::{success, Ctl, Failure};

pub async fn run(ctl: &Ctl) -> Result<(), Failure> {
    let r: Reloaded = success(ctl.client.request("POST", "/v2/reload", None).await?)?.data()?;
    ctl.print_object(&r, show);
    Ok(())
}

fn show(r: &Reloaded) {
    let list = |v: &[String]| if v.is_empty() { "nothing".to_string() } else { v.join(", ") };
    println!("config {} reloaded", r.config);
    println!("applied: {}", list(&r.applied));
    if !r.restart_needed.is_empty() {
        println!("changed, but only a restart applies it: {}", r.restart_needed.join(", "));
    }
    for n in &r.notes {
        println!("note: {n}");
    }
}
