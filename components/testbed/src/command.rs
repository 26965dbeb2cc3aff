//! The command test component: `write <path> <text>` writes a file (in a preopened directory),
//! `alloc <mib>` touches that much memory, `spin <ms>` computes that long, `fail` exits 1;
//! each prints what it did.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |index: usize| args.get(index).map(String::as_str).unwrap_or_default();
    match arg(0) {
        "write" => match std::fs::write(arg(1), arg(2)) {
            Ok(()) => println!("wrote {}", arg(1)),
            Err(error) => {
                eprintln!("cannot write {}: {error}", arg(1));
                return ExitCode::FAILURE;
            }
        },
        "alloc" => {
            let mib: usize = arg(1).parse().unwrap_or(1);
            let block = vec![1u8; mib << 20];
            println!("allocated {}", block.iter().step_by(4096).map(|&b| u64::from(b)).sum::<u64>());
        }
        "spin" => {
            let ms: u128 = arg(1).parse().unwrap_or(1);
            let start = std::time::Instant::now();
            let mut value = 0u64;
            while start.elapsed().as_millis() < ms {
                value = value.wrapping_mul(31).wrapping_add(7);
            }
            println!("computed {value}");
        }
        "env" => println!("{}", std::env::var(arg(1)).unwrap_or_default()),
        "fail" => return ExitCode::FAILURE,
        other => {
            eprintln!("unknown command '{other}'");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
