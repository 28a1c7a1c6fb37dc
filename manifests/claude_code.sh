# Claude Code: `tasklens config claude-code` prints this line with this installation's path and your
# export folder filled in. Run it where the keys you use are exported (an empty one leaves that provider off).
# Keep the name (tasklens) before the -e options: -e takes several values and would swallow it.
claude mcp add tasklens -e ANGO_API_KEY="$ANGO_API_KEY" -e DEEPOMATIC_API_KEY="$DEEPOMATIC_API_KEY" -e SENDAI_API_KEY="$SENDAI_API_KEY" -e SENDAI_TEAM_ID="$SENDAI_TEAM_ID" -e SENDAI_PROJECT_ID="$SENDAI_PROJECT_ID" -e MAXSIGHT_API_KEY="$MAXSIGHT_API_KEY" -e MAXSIGHT_REGION="$MAXSIGHT_REGION" -e TASKLENS_EXPORT_ROOTS=/absolute/path/to/exports -- /absolute/path/to/.venv/bin/tasklens serve
# Try it first with no keys, on the built-in simulated providers (`tasklens config claude-code --sandbox`):
#   claude mcp add tasklens-sandbox -- /absolute/path/to/.venv/bin/tasklens serve --sandbox
# Streamable HTTP instead of stdio, once `tasklens serve --http` runs:
#   claude mcp add --transport http tasklens http://127.0.0.1:8765/mcp
