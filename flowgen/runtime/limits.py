"""Amazon SWF's limits, each defined once: the compiler checks specs against them, the engine obeys them.

Each line names the SWF API parameter or quota it comes from (SWF developer guide,
"Amazon SWF quotas", and the API reference's length constraints).
"""

from __future__ import annotations

# Names and versions: the `name` of a domain, workflow type or activity type (1-256 characters).
MAX_NAME = 256
# The `version` of a workflow type or activity type (1-64 characters).
MAX_VERSION = 64
# `activityId`, `timerId` and `workflowId` (1-256 characters).
MAX_ID = 256
# The `identity` of PollForDecisionTask / PollForActivityTask (0-256 characters).
MAX_IDENTITY = 256
# The `description` of RegisterDomain / RegisterWorkflowType / RegisterActivityType (0-1024).
MAX_DESCRIPTION = 1024
# `tagList` of StartWorkflowExecution: at most 5 tags, each 0-256 characters.
MAX_TAGS = 5
MAX_TAG = 256

# `input`, `result` and `control` of workflows, activities and timers (0-32768 characters).
MAX_PAYLOAD = 32768
# `details` of RespondActivityTaskFailed and FailWorkflowExecution (0-32768 characters).
MAX_DETAILS = 32768
# `maximumPageSize` of PollForDecisionTask, GetWorkflowExecutionHistory and the List* calls (at most 1000).
MAX_PAGE_SIZE = 1000

# `reason` of RespondActivityTaskFailed and FailWorkflowExecution (0-256 characters).
MAX_REASON = 256
# `details` of RecordActivityTaskHeartbeat (0-2048 characters).
MAX_HEARTBEAT_DETAILS = 2048

# Quota: open activity tasks per workflow execution.
MAX_OPEN_ACTIVITIES = 1000
# Quota: open timers per workflow execution.
MAX_OPEN_TIMERS = 1000
# Quota: open child workflow executions per workflow execution.
MAX_OPEN_CHILDREN = 1000
# RespondDecisionTaskCompleted takes more, but flowgen sends at most 100 decisions per response
# so that each one stays small and fast (the history budget counts on it too).
MAX_DECISIONS = 100
# Quota: an API request is at most 1 MB; flowgen keeps a response below this, with room for the envelope.
MAX_RESPONSE_BYTES = 1_000_000

# Quota: an execution is closed when its history reaches 25,000 events.
HISTORY_LIMIT = 25_000
# AWS advises keeping a history under 10,000 events.
HISTORY_ADVICE = 10_000
# `executionStartToCloseTimeout`: at most one year.
MAX_EXECUTION_SECONDS = 365 * 86400
# RegisterDomain `workflowExecutionRetentionPeriodInDays`: at most 90.
MAX_RETENTION_DAYS = 90
