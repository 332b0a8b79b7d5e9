"""The core task list (核心任务清单): each centre's recurring duties per post and person, measured or ticked."""
