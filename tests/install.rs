// SPDX-License-Identifier: MIT OR Apache-2.0
//! scripts/setup.sh installs the plugin and the models through scripts/install-file.sh: a copy
//! under a temporary name, renamed over the old file. A process that has the old file open (a
//! running pipeline has the plugin mapped) keeps reading the old bytes; copying in place, as
//! `cp -f` does, rewrites them under it (a running pipeline died with SIGSEGV).

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-file.sh")
}

fn bash(cmd: &str, args: &[&Path]) -> std::process::ExitStatus {
    let mut c = Command::new("bash");
    c.arg("-c").arg(cmd).arg("bash");
    for a in args {
        c.arg(a);
    }
    c.status().expect("bash runs")
}

fn read_all(f: &mut std::fs::File) -> Vec<u8> {
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

/// Installs `new` over `dest` (holding `dest` open) with `cmd`; returns what the open file then
/// reads.
fn install_while_open(cmd: &str, dir: &Path, tag: &str) -> (Vec<u8>, Vec<u8>) {
    let dest = dir.join("libplugin.so");
    std::fs::write(&dest, vec![b'o'; 10_000]).unwrap();
    let src_dir = dir.join(format!("src-{tag}"));
    std::fs::create_dir_all(&src_dir).unwrap();
    let src = src_dir.join("libplugin.so");
    std::fs::write(&src, vec![b'n'; 12_000]).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut held = std::fs::File::open(&dest).unwrap();
    assert!(bash(cmd, &[&src, dir]).success(), "{cmd}");
    (read_all(&mut held), std::fs::read(&dest).unwrap())
}

#[test]
fn install_replaces_files_without_touching_open_ones() {
    let dir = std::env::temp_dir().join(format!("tf-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // The mechanism of the crash: an in-place copy changes what the holder reads.
    let (held, _) = install_while_open("cp -f \"$1\" \"$2/\"", &dir, "cp");
    assert_eq!(held[0], b'n', "cp -f no longer writes in place?");

    // install_file: the holder keeps the old bytes; the path has the new ones, with the mode of
    // the source; no temporary file is left.
    let cmd = format!(". {} && install_file \"$1\" \"$2\"", script().display());
    let (held, now) = install_while_open(&cmd, &dir, "atomic");
    assert_eq!(held, vec![b'o'; 10_000], "the open file was rewritten");
    assert_eq!(now, vec![b'n'; 12_000]);
    let mode = std::fs::metadata(dir.join("libplugin.so"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left: {names:?}"
    );

    // A failed copy (no such source) fails and leaves nothing behind.
    let missing = dir.join("missing.onnx");
    assert!(!bash(&cmd, &[&missing, &dir]).success());
    let left = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(left, 3, "files after a failed install");
    let _ = std::fs::remove_dir_all(&dir);
}

/// setup.sh installs through install_file, for the plugin and for the models.
#[test]
fn setup_installs_through_install_file() {
    let setup =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup.sh"))
            .unwrap();
    assert!(setup.contains(". scripts/install-file.sh"));
    assert!(setup
        .contains("install_file \"${CARGO_TARGET_DIR:-target}/$profile/libgsttalkingface.so\""));
    assert!(setup.contains("install_file \"$m\" \"$modeldir\""));
    assert!(
        !setup.contains("cp -f"),
        "setup.sh still copies over installed files"
    );
}
