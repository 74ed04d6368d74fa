//! Hints: "did you mean" for misspelt names and example values for missing keys.

/// How alike two names must be (Jaro-Winkler, 0 to 1) to suggest one for the other.
const SIMILARITY_THRESHOLD: f64 = 0.8;

/// The candidate most like `word`, if any is alike enough.
pub(crate) fn closest_candidate<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            let similarity = strsim::jaro_winkler(&word, &candidate.to_lowercase());
            (candidate, similarity)
        })
        .filter(|(_, similarity)| *similarity >= SIMILARITY_THRESHOLD)
        .max_by(|left, right| left.1.total_cmp(&right.1))
        .map(|(candidate, _)| candidate)
}

/// `` `a`, `b` and `c` ``.
pub(crate) fn render_backticked_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("`{item}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// An example line for a required key, by its path with base names and indexes replaced by `*`.
pub(crate) fn example_for_missing_key(key_pattern: &str) -> Option<&'static str> {
    let example = match key_pattern {
        "project" => "[project] with name = \"mysite\"",
        "project.name" => "name = \"mysite\"",
        "app" => {
            "[app] with path = \"app\", settings_module = \"mysite.settings\", \
             wsgi = \"mysite.wsgi:application\", port = 8000 and \
             requirements = [\"requirements.txt\"]"
        }
        "app.path" => "path = \"app\"",
        "app.settings_module" => "settings_module = \"mysite.settings\"",
        "app.wsgi" => "wsgi = \"mysite.wsgi:application\"",
        "app.port" => "port = 8000",
        "app.requirements" => "requirements = [\"requirements.txt\"]",
        "base.*.image" => "image = \"python:3.12-slim-bookworm\"",
        "base.*.bootstrap.suite" => "suite = \"bookworm\"",
        "smoke.check.*.name" => "name = \"health through nginx\"",
        "smoke.check.*.path" => "path = \"/health/\"",
        "scan.trivy_version" => "trivy_version = \"0.76.0\"",
        "scan.ignore.*.id" => "id = \"CVE-2019-18276\"",
        "scan.ignore.*.reason" => "reason = \"bash is not reachable from the app\"",
        "scan.ignore.*.expires" => "expires = 2026-12-31",
        _ => return None,
    };
    Some(example)
}

#[cfg(test)]
mod tests {
    use super::{closest_candidate, render_backticked_list};

    #[test]
    fn suggests_close_names_only() {
        let keys = ["path", "port", "wsgi", "requirements"];
        assert_eq!(closest_candidate("prot", keys), Some("port"));
        assert_eq!(closest_candidate("requirement", keys), Some("requirements"));
        assert_eq!(closest_candidate("zzz", keys), None);
    }

    #[test]
    fn lists_read_like_prose() {
        assert_eq!(render_backticked_list(&[]), "");
        assert_eq!(render_backticked_list(&["a"]), "`a`");
        assert_eq!(render_backticked_list(&["a", "b", "c"]), "`a`, `b` and `c`");
    }
}
