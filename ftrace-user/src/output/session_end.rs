//! How a measuring session ended, said when the user should know: the command failed
//! or was killed, or a signal stopped the session.

use crate::session::StopReason;

/// The line to print (without the `hytrace: ` prefix) for a session that ended for
/// `reason` while running `command` (its argv); None when nothing needs saying.
pub fn note(reason: &StopReason, command: &[String]) -> Option<String> {
    let name = command.first().map_or("the command", String::as_str);
    match reason {
        StopReason::CommandExited(Some(0)) | StopReason::Duration | StopReason::Triggered => None,
        StopReason::CommandExited(Some(code)) => Some(format!("{name} exited with status {code}")),
        StopReason::CommandExited(None) => Some(format!("{name} was killed by a signal")),
        StopReason::Signal(signal) => Some(format!("stopped by {signal}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_failures_and_signals_only() {
        let command = vec!["./spin".to_string(), "10".to_string()];
        assert_eq!(note(&StopReason::CommandExited(Some(0)), &command), None);
        assert_eq!(note(&StopReason::Duration, &command), None);
        assert_eq!(
            note(&StopReason::CommandExited(Some(3)), &command).as_deref(),
            Some("./spin exited with status 3")
        );
        assert_eq!(
            note(&StopReason::CommandExited(None), &command).as_deref(),
            Some("./spin was killed by a signal")
        );
        assert_eq!(
            note(&StopReason::Signal("SIGINT"), &[]).as_deref(),
            Some("stopped by SIGINT")
        );
    }
}
