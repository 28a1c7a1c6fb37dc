# Claude Code: add tasklens on stdio with the keys of the providers you use.
# Keep the name (tasklens) before the -e options: -e takes several values and would swallow it.
claude mcp add tasklens -e ANGO_API_KEY=your-key -e DEEPOMATIC_API_KEY=your-key -e SENDAI_API_KEY=your-key -e SENDAI_TEAM_ID=your-team -e SENDAI_PROJECT_ID=your-project -e MAXSIGHT_API_KEY=your-key -e MAXSIGHT_REGION=eu -- tasklens serve
# Try it first with no keys, on the built-in simulated providers:
#   claude mcp add tasklens-sandbox -- tasklens serve --sandbox
# Streamable HTTP instead of stdio, once `tasklens serve --http` runs:
#   claude mcp add --transport http tasklens http://127.0.0.1:8765/mcp
