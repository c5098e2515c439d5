# shellcheck shell=bash
# Sourced by scripts/setup.sh (and tests/install.rs).
#
# install_file SRC DIR: installs SRC as DIR/<its name> atomically. The copy is made under a
# temporary name in DIR and renamed over the old file (mv -f), so a process that has the old file
# open or mapped (a running pipeline has the plugin and its models loaded) keeps the old inode
# intact; copying over the file in place rewrote the pages under such a process, which then died
# with SIGSEGV. The mode of SRC is kept; nothing is left behind on failure.
install_file() {
  local src="$1" dir="$2" name tmp
  name=$(basename "$src")
  tmp=$(mktemp "$dir/.$name.XXXXXX") || return 1
  if ! cp --preserve=mode "$src" "$tmp" || ! mv -f "$tmp" "$dir/$name"; then
    rm -f "$tmp"
    return 1
  fi
}
