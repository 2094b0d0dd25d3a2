#!/bin/sh
# Make the virtualenv that runs anchor (b), gpt4free's Chatgpt4o provider, apart from the
# project's own environment (g4f pulls in many packages of its own).
#   sh benchmarks/setup_g4f_env.sh [/tmp/g4fenv]
# then: python benchmarks/run.py --g4f-python /tmp/g4fenv/bin/python   (the default path)
set -eu
venv="${1:-/tmp/g4fenv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "g4f==6.7.1" curl_cffi
"$venv/bin/python" -c "import g4f, curl_cffi; print('g4f', g4f.version.utils.current_version if hasattr(g4f, 'version') else '', 'curl_cffi', curl_cffi.__version__)" || true
echo "anchor (b) python: $venv/bin/python"
