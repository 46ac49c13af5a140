"""Packaging for txconsul."""

from setuptools import find_packages, setup

with open("README.md", encoding="utf-8") as f:
    long_description = f.read()

setup(
    name="txconsul",
    version="0.1.0",
    description="A Twisted-native client for HashiCorp Consul, with an in-memory fake agent",
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    # twisted.plugins is listed explicitly: it is a namespace directory with no
    # __init__.py, and find_packages() would not see it.
    packages=find_packages(include=["txconsul", "txconsul.*"]) + ["twisted.plugins"],
    package_data={"twisted.plugins": ["txconsul_plugins.py"]},
    include_package_data=True,
    install_requires=[
        "twisted[tls]>=22.10",
        "treq>=22.1",
        "httptools>=0.6",
        "zope.interface>=5",
    ],
    extras_require={
        "test": ["hypothesis>=6", "cryptography>=3.4", "h11>=0.14"],
        "docs": ["sphinx>=5"],
    },
    classifiers=[
        "Framework :: Twisted",
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: MIT License",
    ],
)
