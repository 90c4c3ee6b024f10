// `sqlx::migrate!` tracks the files it embeds but not the directories, so a newly added migration
// file would otherwise not trigger a rebuild.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/public");
    println!("cargo:rerun-if-changed=../../migrations/tenant");
}
