#!/bin/sh
# The build step, run inside a locked-down container: sources at /app (read-only), output at /out.
# esbuild resolves "react" and "react-dom" through NODE_PATH (the copies baked into the image), so
# nothing is fetched. Errors print as "file:line:column: message" for the user.
set -eu
cd /app
for required in app.json index.html src/main.jsx; do
    if [ ! -f "$required" ]; then
        echo "$required: file is missing" >&2
        exit 2
    fi
done
/opt/kiln/bin/esbuild src/main.jsx \
    --bundle \
    --outfile=/out/bundle.js \
    --jsx=automatic \
    --loader:.js=jsx \
    --loader:.jsx=jsx \
    --loader:.css=css \
    --loader:.json=json \
    --define:process.env.NODE_ENV='"production"' \
    --target=es2020 \
    --minify \
    --log-level=warning \
    --color=false \
    --log-limit=20
cp app.json index.html /out/
