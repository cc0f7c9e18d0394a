#!/bin/sh
# Installs one Python image's packages into the venv /opt/hotline. Run inside the
# build with the build context at /ctx (devstack.images fills it) and uv's download
# cache at /uv-cache (a buildah cache mount, kept across builds):
#   /ctx/requirements.txt  the locked third-party requirements (uv export, with hashes)
#   /ctx/wheels/*.whl      the workspace members, built from this tree
#   /ctx/uv                the uv binary (not left in the image)
#   /ctx/ca-bundle.crt     the build host's CA bundle: it reaches PyPI, possibly through
#                          a TLS-inspecting egress proxy the image's own CAs don't know
set -eu
export UV_CACHE_DIR=/uv-cache UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1 \
    SSL_CERT_FILE=/ctx/ca-bundle.crt
/ctx/uv venv --quiet --python /usr/bin/python3.11 /opt/hotline
# --no-deps: the export is the whole locked closure, so nothing is resolved here.
/ctx/uv pip install --quiet --python /opt/hotline/bin/python --require-hashes --no-deps \
    --compile-bytecode -r /ctx/requirements.txt
/ctx/uv pip install --quiet --python /opt/hotline/bin/python --no-deps --offline \
    --compile-bytecode /ctx/wheels/*.whl
/ctx/uv pip check --python /opt/hotline/bin/python
# The topic catalog comes inside the hotline-events wheel: prove it loads.
/opt/hotline/bin/python -c 'from hotline_events.catalog import default_catalog; default_catalog()'
