# The IPython profile of the kernels that execute the chapters while the book is built.
# The build selects it with IPYTHONDIR=tools/ipython_build_profile (the Makefile's BUILD_ENV),
# and IPython reads this file when each kernel starts (ipykernel's IPKernelApp reads
# profile_default/ipython_kernel_config.py under $IPYTHONDIR). Jupyter and Colab never see it.
c = get_config()  # noqa: F821  (IPython provides get_config to its config files)

# lessons_lib/book_kernel.py: every figure that is one row of panels also carries a copy with
# its panels stacked, which the rendered page shows on phones (_ext/lessons_book/phone_figures.py).
c.InteractiveShellApp.extensions = ["lessons_lib.book_kernel"]
# An extension that fails to load fails the kernel, and so the build, instead of a warning.
c.InteractiveShellApp.reraise_ipython_extension_failures = True
# Keep the history in memory: nothing is written under this folder, whose files the build's
# cache reads, and parallel kernels share no SQLite file.
c.HistoryManager.hist_file = ":memory:"
