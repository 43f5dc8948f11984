//! Where abra keeps things under its `ABRA_DIR`: the server directories, the
//! apps' env files and the recipe checkouts.

use std::path::{Path, PathBuf};

/// abra's name for the local server (`abra server add --local`).
pub const SERVER: &str = "default";

/// The subdirectories of an `ABRA_DIR`: server configs with the apps' env
/// files, recipe checkouts, and the recipe catalogue.
pub const SERVERS: &str = "servers";
pub const RECIPES: &str = "recipes";
pub const CATALOGUE: &str = "catalogue";

/// The directory of one server's apps.
pub fn server_dir(abra_dir: &Path, server: &str) -> PathBuf {
    abra_dir.join(SERVERS).join(server)
}

/// Where abra keeps an app's env file.
pub fn env_file(abra_dir: &Path, server: &str, domain: &str) -> PathBuf {
    server_dir(abra_dir, server).join(format!("{domain}.env"))
}

/// Where abra keeps a recipe's checkout.
pub fn recipe_dir(abra_dir: &Path, recipe: &str) -> PathBuf {
    abra_dir.join(RECIPES).join(recipe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_file_lives_in_the_server_dir() {
        let d = Path::new("/var/lib/abra");
        assert_eq!(
            env_file(d, SERVER, "a.example.org"),
            Path::new("/var/lib/abra/servers/default/a.example.org.env")
        );
        assert_eq!(
            recipe_dir(d, "traefik"),
            Path::new("/var/lib/abra/recipes/traefik")
        );
    }
}
