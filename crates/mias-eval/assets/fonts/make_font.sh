#!/usr/bin/env bash
# Rebuilds Roboto-Regular-subset.ttf, the font mias-eval embeds to draw text in its plots.
# Source: Debian package fonts-roboto-unhinted 2:0~20170802-3 (Roboto by Google, Apache-2.0).
# Needs apt-get (Debian) and pyftsubset (pip install fonttools; 4.68.0 made the committed file).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download fonts-roboto-unhinted=2:0~20170802-3
dpkg-deb -x fonts-roboto-unhinted_*.deb x
src=x/usr/share/fonts/truetype/roboto/unhinted/RobotoTTF/Roboto-Regular.ttf
echo "797e35f7f5d6020a5c6ea13b42ecd668bcfb3bbc4baa0e74773527e5b6cb3174  $src" | sha256sum -c -
# Keep printable ASCII, Latin-1, en and em dashes, the minus sign and the ellipsis; drop hinting.
pyftsubset "$src" \
  --unicodes="U+0020-007E,U+00A0-00FF,U+2013,U+2014,U+2212,U+2026" \
  --layout-features='kern' --no-hinting \
  --output-file="$here/Roboto-Regular-subset.ttf"
