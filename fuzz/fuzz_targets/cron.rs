//! CronJob schedules: parsed as robfig's ParseStandard or refused with a reason; a parsed
//! schedule has a gap or never runs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(schedule) = autolabs_k8s::cron::Schedule::parse(text) {
        let _ = schedule.longest_gap_minutes();
    }
});
