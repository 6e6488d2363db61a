//! The built site: whether this is a development build, Leptos's options from ours, where
//! this build's files are named from, and which bundle the home page loads.

use leptos::config::{Env, LeptosOptions};

use crate::config::Config;

/// Whether this is a development build served by `cargo leptos watch` (live reload on).
pub fn is_dev() -> bool {
    match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("PROD") | Ok("prod") | Ok("production") => false,
        Ok("DEV") | Ok("dev") | Ok("development") => true,
        _ => cfg!(debug_assertions),
    }
}

/// Leptos's settings, from ours.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    let env = if is_dev() { Env::DEV } else { Env::PROD };
    LeptosOptions::builder()
        .output_name(config.output_name.clone())
        .site_root(config.site_root.clone())
        .site_pkg_dir(config.site_pkg_dir.clone())
        .site_addr(config.listen)
        .reload_port(config.reload_port)
        .env(env)
        .build()
}

/// Where this build's files are named from (`/pkg/<hash>`: see `app::head::BuiltRoot`), from
/// a hash of every file of the site's `pkg` directory, read once per process (a process serves
/// one site); none in development (`cargo leptos watch` rebuilds them under the running
/// server) or when the directory cannot be read. The same build gives every process the same
/// root.
pub fn built_root(config: &Config) -> Option<String> {
    static ROOT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if is_dev() {
        return None;
    }
    ROOT.get_or_init(|| {
        hash_of_dir(&std::path::Path::new(&config.site_root).join(&config.site_pkg_dir))
            .map(|hex| format!("/pkg/{hex}"))
    })
    .clone()
}

/// The first 16 hex digits of a SHA-256 over the names and contents of the files of `dir`, in
/// name order; none for a directory without files or that cannot be read.
fn hash_of_dir(dir: &std::path::Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    if names.is_empty() {
        return None;
    }
    names.sort();
    let mut hash = Sha256::new();
    for path in names {
        hash.update(path.file_name()?.as_encoded_bytes());
        // Streamed through a small buffer: reading each file whole (the WASM and its
        // compressed copies, megabytes each) left the allocator holding that memory, about
        // 4 MiB of an idle server's resident size.
        let mut file = std::fs::File::open(&path).ok()?;
        std::io::copy(&mut file, &mut hash).ok()?;
    }
    Some(
        hash.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// The options the home page renders with: the hydration script loads the home page's own
/// bundle (`pkg/home.js` and `pkg/home.wasm`, from `scripts/build-home`) when the site has it
/// and it is not older than the main bundle; else the main bundle, which hydrates the same
/// component (as under `cargo leptos watch`, where an older release build's home bundle may
/// still lie in the site).
pub fn home_options(options: &LeptosOptions) -> LeptosOptions {
    let pkg = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let modified = |name: String| {
        std::fs::metadata(pkg.join(name))
            .and_then(|meta| meta.modified())
            .ok()
    };
    let home = modified("home.js".into()).and(modified("home.wasm".into()));
    let main = modified(format!("{}.wasm", options.output_name));
    match (home, main) {
        (Some(home), Some(main)) if home < main => options.clone(),
        (Some(_), _) => {
            let mut options = options.clone();
            options.output_name = "home".into();
            options
        }
        (None, _) => options.clone(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_home_page_uses_its_own_bundle_only_when_it_is_built_and_current() {
        use std::time::{Duration, SystemTime};
        let site = tempfile::tempdir().unwrap();
        let pkg = site.path().join("pkg");
        std::fs::create_dir(&pkg).unwrap();
        let options = leptos::config::LeptosOptions::builder()
            .output_name("sentinel")
            .site_root(site.path().to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .build();
        let write = |name: &str, age_s: u64| {
            let file = std::fs::File::create(pkg.join(name)).unwrap();
            file.set_modified(SystemTime::now() - Duration::from_secs(age_s))
                .unwrap();
        };
        let chosen = || super::home_options(&options).output_name.to_string();
        write("sentinel.wasm", 100);
        assert_eq!(chosen(), "sentinel", "no home bundle");
        write("home.wasm", 50);
        assert_eq!(chosen(), "sentinel", "half a home bundle (no JS)");
        write("home.js", 50);
        assert_eq!(chosen(), "home");
        // The main bundle rebuilt since (cargo leptos watch after a release build).
        write("sentinel.wasm", 10);
        assert_eq!(chosen(), "sentinel", "a stale home bundle");
    }

    #[test]
    fn a_build_s_address_follows_its_files_names_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(super::hash_of_dir(dir.path()), None, "no files");
        assert_eq!(super::hash_of_dir(&dir.path().join("missing")), None);
        std::fs::write(dir.path().join("app.js"), "one").unwrap();
        let first = super::hash_of_dir(dir.path()).unwrap();
        assert_eq!(first.len(), 16);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            super::hash_of_dir(dir.path()).as_ref(),
            Some(&first),
            "the same build"
        );
        std::fs::write(dir.path().join("app.js"), "two").unwrap();
        let second = super::hash_of_dir(dir.path()).unwrap();
        assert_ne!(first, second, "another content");
        std::fs::rename(dir.path().join("app.js"), dir.path().join("app2.js")).unwrap();
        assert_ne!(
            super::hash_of_dir(dir.path()).unwrap(),
            second,
            "another name"
        );
    }
}
