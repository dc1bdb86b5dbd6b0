"""Build of the optional C kernels of the national algorithms (gateway/crypto/ua/_native.c).

Everything else is declared in pyproject.toml. The extension is optional: without a C compiler the
install goes on and the pure Python code in gateway/crypto/ua/ does the work (much slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "gateway.crypto.ua._native",
            sources=["gateway/crypto/ua/_native.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
