//! Secrets never reach a log: each form in which a step can print one is masked on the
//! terminal's lines and in the log files, through the real executor.

mod support;

use bellwether_pipeline_core::run::Conclusion;

const SECRET: &str = "hunter2-S3cr3t!";

async fn masked(script: &str, secret: &str) -> (Vec<String>, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let yaml = format!(
        "pipelines:\n  ci:\n    jobs:\n      leak:\n        steps:\n          - env: {{TOKEN: \"${{{{ secrets.TOKEN }}}}\"}}\n            run: |\n{}",
        script
            .lines()
            .map(|l| format!("              {l}\n"))
            .collect::<String>()
    );
    let out = support::run(&yaml, dir.path(), &[("TOKEN", secret)]).await;
    assert_eq!(
        out.conclusion,
        Conclusion::Success,
        "{:?}",
        out.recorder.notes()
    );
    (out.recorder.lines(), out.log_files())
}

fn assert_hidden(lines: &[String], files: &str, needle: &str) {
    assert!(!lines.is_empty(), "the step printed nothing");
    assert!(
        lines.iter().all(|l| !l.contains(needle)),
        "{needle} leaked to the terminal: {lines:?}"
    );
    assert!(
        !files.contains(needle),
        "{needle} leaked to the log file: {files}"
    );
    assert!(
        lines.iter().any(|l| l.contains("***")),
        "nothing was masked: {lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_value() {
    let (lines, files) = masked(
        "echo \"token is $TOKEN\"\necho \"${{ secrets.TOKEN }}\"",
        SECRET,
    )
    .await;
    assert_hidden(&lines, &files, SECRET);
    assert_eq!(lines[0], "token is ***");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_base64() {
    let (lines, files) = masked(
        "printf '%s' \"$TOKEN\" | base64\nprintf 'user:%s' \"$TOKEN\" | base64",
        SECRET,
    )
    .await;
    assert_hidden(&lines, &files, "aHVudGVyMi1TM2NyM3Qh");
    assert!(
        lines.iter().filter(|l| l.contains("***")).count() >= 2,
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_url_encoding() {
    let secret = "p@ss w/rd&x";
    let (lines, files) = masked("python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ[\"TOKEN\"], safe=\"\"))' 2>/dev/null || printf '%s\\n' 'p%40ss%20w%2Frd%26x'", secret).await;
    assert_hidden(&lines, &files, "p%40ss%20w%2Frd%26x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_line_of_a_multi_line_secret() {
    let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END KEY-----";
    let (lines, files) = masked(
        "printf '%s\\n' \"$TOKEN\" | sed -n 2p\necho \"the key: $TOKEN\"",
        key,
    )
    .await;
    assert_hidden(&lines, &files, "MIIEvQIBADANBgkq");
    assert!(!files.contains("hkiG9w0BAQEFAASC"), "{files}");
}
