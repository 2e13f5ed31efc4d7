"""What every chapter uses: translations, plotting primitives, the live-training panel, controls,
uploads, the sidebar, the course map, the app-wide style, image tiles and the shipped models' status."""
