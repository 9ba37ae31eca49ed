"""lftp as the client: mirror a tree up and back down, byte for byte; everyday file operations."""

from conftest import make_tree, random_bytes, sha256, tree_snapshot, write_file


def test_mirror_up_and_back(ferry, area, tmp_path):
    src = tmp_path / "src"
    back = tmp_path / "back"
    make_tree(src)
    expected = tree_snapshot(src)
    assert any(v == ("dir",) for v in expected.values())

    r = ferry.lftp(f'mirror -R --no-perms --no-umask "{src}" "{area.v("tree")}"', home=tmp_path / "home")
    assert r.returncode == 0, f"mirror -R failed\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    # What landed in storage is exactly the source tree (empty files and empty directories included).
    assert tree_snapshot(area.p("tree")) == expected
    assert not ferry.upload_leftovers()

    r = ferry.lftp(f'mirror --no-perms --no-umask "{area.v("tree")}" "{back}"', home=tmp_path / "home")
    assert r.returncode == 0, f"mirror failed\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert tree_snapshot(back) == expected


def test_mirror_again_transfers_nothing_new(ferry, area, tmp_path):
    """A second `mirror -R` of an unchanged tree must not fail (lftp compares sizes and dates)."""
    src = tmp_path / "src"
    make_tree(src)
    cmd = f'mirror -R --no-perms --no-umask "{src}" "{area.v("tree")}"'
    r = ferry.lftp(cmd, home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    write_file(src / "données" / "nouveau.txt", b"new file\n")
    r = ferry.lftp(cmd, home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert tree_snapshot(area.p("tree")) == tree_snapshot(src)


def test_mirror_with_permissions_sends_site_chmod_accepted(ferry, area, tmp_path):
    """Without --no-perms lftp sets each file's mode with SITE CHMOD: acknowledged (200), so the
    mirror reports no error for every file as it did when SITE was unknown."""
    src = tmp_path / "src"
    make_tree(src)
    mark = ferry.log_size()
    r = ferry.lftp(f'mirror -R "{src}" "{area.v("perms")}"', home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert "500" not in r.stderr and "Unknown command" not in r.stderr, r.stderr
    lines = ferry.log_text(mark).splitlines()
    sites = [i for i, line in enumerate(lines) if "verb=SITE" in line and "CHMOD" in line]
    assert sites, "lftp sent no SITE CHMOD"
    for index in sites:  # the reply that follows each SITE CHMOD
        answer = next(line for line in lines[index + 1:] if " reply " in line)
        assert "code=200" in answer, answer
    assert tree_snapshot(area.p("perms")) == tree_snapshot(src)


def test_everyday_operations(ferry, area, tmp_path):
    data = random_bytes(300_000)
    local = write_file(tmp_path / "local.bin", data)
    script = "; ".join([
        f'cd "{area.vpath}"',
        "mkdir -p a/b/c",
        f'put "{local}" -o "a/b/c/f.bin"',
        'mv "a/b/c/f.bin" "a/b/g.bin"',
        'mkdir "gone"',
        'rmdir "gone"',
        'put "{}" -o "tmp.bin"'.format(local),
        'rm "tmp.bin"',
        'mv "a/b/c" "a/renamed"',
        f'get "a/b/g.bin" -o "{tmp_path / "got.bin"}"',
        "cls -1 a/b",
    ])
    r = ferry.lftp(script, home=tmp_path / "home")
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert (tmp_path / "got.bin").read_bytes() == data
    assert area.p("a", "b", "g.bin").read_bytes() == data
    assert not area.p("a", "b", "c").exists()
    assert area.p("a", "renamed").is_dir()
    assert not area.p("gone").exists()
    assert not area.p("tmp.bin").exists()
    assert "g.bin" in r.stdout


def test_get_continue(ferry, area, tmp_path):
    data = random_bytes(4 * 1024 * 1024 + 5)
    write_file(area.p("big.bin"), data)
    out = write_file(tmp_path / "big.bin", data[:1_000_000])
    r = ferry.lftp(f'get -c "{area.v("big.bin")}" -o "{out}"', home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert sha256(out.read_bytes()) == sha256(data)
