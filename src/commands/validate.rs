//! `loadtest validate FILE...`: loads each scenario and reports every problem (exit 2 if any file has one), warns
//! of likely mistakes, and with `--plan` prints what would run.

use crate::cli::ValidateArgs;
use crate::exit::Failure;

pub fn validate(args: &ValidateArgs) -> Result<(), Failure> {
    let mut bad = 0;
    for file in &args.files {
        match crate::scenario::load_file(file, &args.scenario_args.all_sets()) {
            Ok(s) => {
                crate::outln!("ok: {} ({}, {} messages)", file.display(), s.name, s.messages);
                for key in s.inert_keys() {
                    crate::outln!("  note: {key} applies to broker.semantics = \"servicebus\" only; ignored here");
                }
                let plan = crate::plan::plan(&s);
                if args.plan {
                    for line in &plan.lines {
                        crate::outln!("  {line}");
                    }
                }
                for w in &plan.warnings {
                    crate::outln!("  warning: {w}");
                }
            }
            Err(e) => {
                crate::errln!("{e}");
                bad += 1;
            }
        }
    }
    if bad > 0 {
        return Err(Failure::input(format!("{bad} of {} scenario file(s) have problems", args.files.len())));
    }
    Ok(())
}
