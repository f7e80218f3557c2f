"""Reference solutions of every exercise: one source for the tests and for the trainers' notebooks.

Each module here holds one chapter's solutions, in the order the chapter asks
for them, with a docstring that says why each one is right. `tests/` imports
them as the references the checkers must pass, and `make solutions` turns each
module into `solutions/NN_<chapter>.ipynb`, run and saved with the checker's
verdict, for a trainer to hand out after the session. Edit the module, never
the notebook: a test fails when a notebook no longer matches its module.

A module names its chapter in ``CHAPTER`` and lists its checks in ``CHECKS``,
as ``(solution name, checker module, checker function)``.
"""
