export { PUBLISH_ERROR_CODES } from './codes.js';
export type { ErrorCode, PublishErrorCode } from './codes.js';
export { PublishedPipeline, publishPipeline, publishRun } from './published-pipeline.js';
export type { PublishOptions, PublishedParameter, PublishedSubmitOptions } from './published-pipeline.js';
export type { DataPathAssignment } from './submission.js';
export { PipelineEndpoint } from './endpoint.js';
export type { EndpointSubmitOptions, EndpointVersion, PublishEndpointOptions } from './endpoint.js';
export type { EndpointStatus, PublishedPipelineStatus } from './store.js';
export { createToken, listTokens, revokeToken, tokenVerifier } from './tokens.js';
export type { CreateTokenOptions, CreatedToken, TokenRecord } from './tokens.js';
export type { AuthCredentials, AuthVerifier, Principal, Scope } from './auth.js';
export { entraIdVerifier } from './entra.js';
export type { EntraIdVerifierOptions } from './entra.js';
export { createRequestHandler } from './handler.js';
export type { RequestHandler, RequestHandlerOptions } from './handler.js';
export type { StudioOptions } from './static-files.js';
export { HTTP_STATUS, httpStatusOf } from './http-status.js';
export { checkServeOptions, serve } from './serve.js';
export type { ServeOptions, SluiceServer } from './serve.js';
export type { CloseOptions } from './queue.js';
export { createSluiceClient } from './client.js';
export type {
  EndpointSummary,
  PipelineSummary,
  RunDetails,
  RunStatusDetail,
  RunStatusObject,
  SluiceClient,
  SluiceClientOptions,
  StepDetails,
  SubmissionBody,
  SubmittedRun,
  WaitForRunOptions,
} from './client.js';
export { FREQUENCIES, Schedule, WEEK_DAYS, createScheduler } from './schedules/index.js';
export type {
  CreateScheduleOptions,
  DatastoreWatch,
  Firing,
  FiringStatus,
  Frequency,
  ListSchedulesOptions,
  Recurrence,
  RecurrenceOptions,
  ScheduleJSON,
  ScheduleKind,
  ScheduleStatus,
  ScheduleTarget,
  ScheduledSubmission,
  Scheduler,
  SchedulerOptions,
  WeekDay,
} from './schedules/index.js';
export type {
  ApiRunStatus,
  ApiStepStatus,
  DatasetProfile,
  DatasetVersionSummary,
  DatastoreSummary,
  ComputeSummary,
  ExperimentSummary,
  ExplanationDetail,
  GitRecord,
  GraphEdge,
  GraphNode,
  MetricPoint,
  MetricValue,
  OutputDetail,
  RunDetail,
  RunList,
  RunSummary,
  ScheduleSummary,
  StepCounts,
  StepDetail,
  StudioEvent,
  WhoAmI,
} from './api-types.js';
