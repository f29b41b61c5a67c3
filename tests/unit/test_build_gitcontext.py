"""Which remotes are git repositories (docker's urlutil.IsGitURL) and what
their fragments name."""

from __future__ import annotations

import pytest

from dockyard.build.gitcontext import GitError, is_git_url, parse


@pytest.mark.parametrize("url,is_git", [
    ("git://example.com/repo", True),
    ("git@github.com:user/repo.git", True),
    ("github.com/user/repo", True),
    ("ssh://git@host/repo", True),
    ("https://host/repo.git", True),
    ("http://host/repo.git#v1:dir", True),
    ("https://host/repo.git#", False),  # a fragment must say something
    ("https://host/repo#v1", False),  # http(s) needs the .git suffix
    ("https://host/context.tar.gz", False),
    ("file:///srv/repo.git", False),  # docker does not take file://
    ("/srv/repo.git", False),
])
def test_is_git_url(url: str, is_git: bool) -> None:
    assert is_git_url(url) is is_git


@pytest.mark.parametrize("url,remote,ref,subdir", [
    ("git://h/r.git", "git://h/r.git", "master", ""),
    ("git://h/r.git#v1", "git://h/r.git", "v1", ""),
    ("git://h/r.git#:sub/dir", "git://h/r.git", "master", "sub/dir"),
    ("https://h/r.git#pull/42/head:a:b", "https://h/r.git", "pull/42/head", "a:b"),
    ("git@github.com:u/r.git#dev:docker", "git@github.com:u/r.git", "dev", "docker"),
    ("github.com/u/r#main", "https://github.com/u/r", "main", ""),
])
def test_parse(url: str, remote: str, ref: str, subdir: str) -> None:
    src = parse(url)
    assert (src.remote, src.ref, src.subdir) == (remote, ref, subdir)


def test_a_ref_cannot_be_an_option() -> None:
    with pytest.raises(GitError, match="invalid refspec: --upload-pack=x"):
        parse("git://h/r.git#--upload-pack=x")
