#!/bin/sh
# nginx serves a copy of this folder (mounted read-only at /etc/nginx/source), never the mount itself:
# a replica taken out of rotation or a configuration deploy (infralab/nginx_config.py) is staged
# beside the copy, tested with `nginx -t`, swapped in and reloaded. A new container starts from the
# repository's configuration again, every replica in rotation.
set -eu
rm -rf /etc/nginx/live /etc/nginx/staging /etc/nginx/previous
cp -R /etc/nginx/source /etc/nginx/live
exec nginx -c /etc/nginx/live/nginx.conf -g 'daemon off;'
