# Claude Code: add tasklens on stdio with the keys of the providers you use (or --sandbox to try it).
claude mcp add tasklens -e ANGO_API_KEY=your-key -e DEEPOMATIC_API_KEY=your-key -- tasklens serve
