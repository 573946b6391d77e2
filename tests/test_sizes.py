"""tools/sizes.py, the size report behind `make lint`: code lines counted as the guide says."""

import pathlib
import sys
import textwrap

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))

import sizes  # noqa: E402

# A function whose code lines were counted by hand: the def line, `x = 1`, the two lines of the
# call, `return x` and the nested def and its body; the docstring (3 lines), the comments, the
# blank lines and the nested docstring are not code.
SAMPLE = textwrap.dedent('''
    """Module docstring."""

    import os  # a comment


    def outer(a,
              b):
        """Docstring
        on three lines.
        """
        # a comment line
        x = 1

        y = os.path.join(  # code with a comment after it
            "a", "b")

        def inner():
            """Nested docstring."""
            return y
        # another comment
        return x


    class Box:
        def method(self):
            s = """a string that is not a docstring
            spans two lines"""
            return s
''')


def test_code_lines_skip_docstrings_comments_and_blanks():
    sizes_by_name = {s.name: s for s in sizes.function_sizes(SAMPLE)}
    assert sizes_by_name["outer"].code_lines == 8  # def a, b, x, y( , "a"), def inner, return y, x
    assert sizes_by_name["outer.inner"].code_lines == 2
    # a multi-line string that is not a docstring is code, every line of it
    assert sizes_by_name["Box.method"].code_lines == 4
    assert sizes.module_lines(SAMPLE) == len(SAMPLE.splitlines())


def test_a_docstring_only_function_has_only_its_def_line():
    assert sizes.function_sizes('def f():\n    """Only a docstring."""\n')[0].code_lines == 1


def _package(tmp_path, source):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text(source)
    return package


def test_limits_and_allow_list(tmp_path, capsys):
    body = "".join(f"    x{i} = {i}\n" for i in range(sizes.MAX_FUNCTION_CODE_LINES))
    # the def line makes 81 code lines; 200 comment lines and a docstring do not count
    long = "def long():\n    '''Doc.'''\n" + "    # why\n" * 200 + body
    package = _package(tmp_path, long)
    report = sizes.check(package, {}, tmp_path)
    assert [(e.what, e.size) for e in report.excesses] == [("pkg/mod.py::long", 81)]
    assert sizes.main(["--package", str(package), "--allow", str(tmp_path / "none.txt")]) == 1
    assert "TOO LONG: pkg/mod.py::long: 81 lines (limit 80)" in capsys.readouterr().out

    # one line fewer is within the limit
    package.joinpath("mod.py").write_text(long.replace("    x0 = 0\n", ""))
    assert sizes.check(package, {}, tmp_path).excesses == []

    # a module over 600 lines, allowed by name, with a reason
    package.joinpath("mod.py").write_text("x = 1\n" * (sizes.MAX_MODULE_LINES + 1))
    allow = tmp_path / "allow.txt"
    allow.write_text("# comment\npkg/mod.py  being split elsewhere\npkg/gone.py  stale entry\n")
    assert sizes.main(["--package", str(package), "--allow", str(allow)]) == 0
    out = capsys.readouterr().out
    assert "allowed: pkg/mod.py: 601 lines (limit 600)" in out
    assert "stale allow-list entry (nothing exceeds there now): pkg/gone.py" in out


def test_allow_entry_needs_a_reason(tmp_path):
    allow = tmp_path / "allow.txt"
    allow.write_text("code/aichip/x.py\n")
    with pytest.raises(ValueError, match="needs a reason"):
        sizes.read_allow_list(allow)


def test_the_package_is_within_its_limits():
    """What `make lint` checks: aichip itself, with the committed allow-list."""
    report = sizes.check(allow=sizes.read_allow_list(sizes.ALLOW_FILE))
    assert [e.what for e in report.excesses if not e.allowed] == []
