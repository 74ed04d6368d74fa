//! The dev app container's launcher and what it is started with: the server's command, the signal that restarts it,
//! the host user it runs as, and the tar uploaded at `/` before the container starts.

/// The launcher (`docker/dev/launcher.py`): PID 1 of the dev app container; restarts the server on
/// [`RESTART_SIGNAL`], stops on SIGTERM or SIGINT.
pub const LAUNCHER: &str = include_str!("../../../docker/dev/launcher.py");
/// The folder of the launcher in the dev containers (uploaded, never part of an image).
pub const DEV_FOLDER: &str = "/dockyard-dev";
/// The launcher's path in the dev containers.
pub const LAUNCHER_PATH: &str = "/dockyard-dev/launcher.py";
/// The signal Dockyard sends the dev app container after a synced change: the launcher restarts the server.
pub const RESTART_SIGNAL: &str = "SIGHUP";

/// The user the dev containers run as: the host user's, so what the app writes is the developer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostUser {
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

impl HostUser {
    /// The user running Dockyard.
    pub fn current() -> HostUser {
        HostUser {
            uid: rustix::process::getuid().as_raw(),
            gid: rustix::process::getgid().as_raw(),
        }
    }

    /// As the engine's `User` field spells it.
    pub fn engine_user(self) -> String {
        format!("{}:{}", self.uid, self.gid)
    }
}

/// The command serving the app on `port` inside the container: Django's development server without its own reloader
/// (Dockyard restarts it when it syncs a change, at once instead of at a polling reloader's next look), or gunicorn
/// on the WSGI application as production runs it; both started through the launcher.
pub fn server_command(server: dockyard_config::DevServer, port: u16, wsgi: &str) -> Vec<String> {
    let mut command = vec!["python3".to_owned(), LAUNCHER_PATH.to_owned()];
    let bind = format!("0.0.0.0:{port}");
    command.extend(match server {
        dockyard_config::DevServer::Runserver => {
            ["python", "manage.py", "runserver", &bind, "--noreload"]
                .map(str::to_owned)
                .to_vec()
        }
        dockyard_config::DevServer::Gunicorn => [
            "gunicorn",
            "--bind",
            &bind,
            "--workers",
            "1",
            "--access-logfile",
            "-",
            wsgi,
        ]
        .map(str::to_owned)
        .to_vec(),
    });
    command
}

/// The tar uploaded at `/` of a dev container before it starts: `owned_folders` (absolute, such as the source
/// folder and the data folder) owned by `user`, so the app can write there, and the launcher.
pub fn setup_tar(owned_folders: &[&str], user: HostUser) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for folder in owned_folders {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_uid(u64::from(user.uid));
        header.set_gid(u64::from(user.gid));
        header.set_size(0);
        header.set_mtime(0);
        tar.append_data(
            &mut header,
            format!("{}/", folder.trim_start_matches('/')),
            std::io::empty(),
        )?;
    }
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(LAUNCHER.len() as u64);
    header.set_mtime(0);
    tar.append_data(
        &mut header,
        LAUNCHER_PATH.trim_start_matches('/'),
        LAUNCHER.as_bytes(),
    )?;
    tar.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setup_tar_gives_the_folders_to_the_user_and_holds_the_launcher() {
        let user = HostUser {
            uid: 1000,
            gid: 1001,
        };
        let bytes = setup_tar(&["/src", "/data"], user).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let path = entry.path().unwrap().display().to_string();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            seen.push((
                path,
                header.uid().unwrap(),
                header.gid().unwrap(),
                text.len(),
            ));
        }
        assert_eq!(
            seen,
            vec![
                ("src/".to_owned(), 1000, 1001, 0),
                ("data/".to_owned(), 1000, 1001, 0),
                ("dockyard-dev/launcher.py".to_owned(), 0, 0, LAUNCHER.len()),
            ]
        );
    }

    #[test]
    fn servers_run_through_the_launcher() {
        assert_eq!(
            server_command(
                dockyard_config::DevServer::Runserver,
                8000,
                "sample.wsgi:application"
            )
            .join(" "),
            "python3 /dockyard-dev/launcher.py python manage.py runserver 0.0.0.0:8000 --noreload"
        );
        assert_eq!(
            server_command(dockyard_config::DevServer::Gunicorn, 8000, "sample.wsgi:application").join(" "),
            "python3 /dockyard-dev/launcher.py gunicorn --bind 0.0.0.0:8000 --workers 1 --access-logfile - sample.wsgi:application"
        );
    }
}
