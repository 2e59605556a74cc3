export * from './source';
export { METRIC_DEFS, type MetricDef, createMetricsRegistry, exposedSeriesNames, type MetricsRegistryOptions } from './registry';
export { startMetricsServer, type MetricsServer, type MetricsServerOptions } from './server';
