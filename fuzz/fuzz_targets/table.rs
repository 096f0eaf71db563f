//! Any bytes as a service table, as `tend check` or PID 1 would read them.
//!
//! Properties: the parser never panics (overflow checks are on here); every
//! error names a line of the input (1 ..= its line count) and a non-empty
//! message; a table with no error has at least one service — unless the
//! input holds no section at all — and each service has a valid name, a
//! program to run and strings inside the pool; parsing is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tend::accounts::EtcAccounts;
use tend::proto::valid_name;
use tend::table;

const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n";
const GROUP: &[u8] = b"root:x:0:\nwww:x:33:\nlog:x:4:www\n";

/// A table as the parser fills it, without descriptors.
type Table = table::Table<()>;

fn parse(src: &[u8], table: &mut Table) -> Vec<(u32, Vec<u8>)> {
    let acc = EtcAccounts {
        passwd: PASSWD,
        group: GROUP,
    };
    let mut errors = Vec::new();
    let n = table::parse(src, &acc, table, &mut |line, message: &[u8]| {
        errors.push((line, message.to_vec()));
    });
    assert_eq!(n, errors.len(), "the count returned is the errors reported");
    errors
}

fuzz_target!(|src: &[u8]| {
    let mut table = Box::new(Table::new());
    let errors = parse(src, &mut table);
    let lines = src.split(|&b| b == b'\n').count() as u32;
    for (line, message) in &errors {
        assert!((1..=lines.max(1)).contains(line), "line {line} of {lines}");
        assert!(!message.is_empty());
    }
    if errors.is_empty() {
        for conf in table.slots.iter().map(|s| &s.conf) {
            assert!(valid_name(&conf.name), "{:?}", conf.name);
            assert!(conf.argc >= 1);
            let argv: Vec<&[u8]> = table.pool.strings(conf.argv).collect();
            assert_eq!(argv.len(), usize::from(conf.argc));
            assert!(!argv[0].is_empty());
            assert_eq!(table.pool.strings(conf.env).count(), usize::from(conf.envc));
            assert!(table.pool.bytes(conf.chdir).starts_with(b"/"));
            for after in &conf.after {
                assert!(table.get(*after).is_some());
            }
        }
    }
    let mut again = Box::new(Table::new());
    assert_eq!(parse(src, &mut again), errors, "deterministic");
    assert_eq!(again.len(), table.len());
});
