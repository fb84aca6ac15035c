import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Anchor, Box, Button, EmptyState, Group, Paper, Progress, SegmentedControl, Select, SimpleGrid, Skeleton, Table, Text, Title } from '@mantine/core';
import { AreaChart, BarChart } from '@mantine/charts';
import { IconChartBar } from '@tabler/icons-react';
import { api, errorMessage, type UsageReport } from '../api';
import { PageHeader } from '../components/PageHeader';
import { LoadError } from '../components/LoadError';
import { ChartPanel } from '../components/ChartPanel';
import { byteTicks, storedChange, usageRange, usageSeries, usageTotals } from '../components/usageSeries';
import { formatBytes, formatCount, isoDay } from '../format';
import { useLinkProps } from '../router';
import { useSession } from '../session';

/** The selector's value for the whole project (no bucket name contains '*'). */
const ALL = '*';

/** `all`: the whole project (the bucket table and the selector); `view`: what the page shows (all, or one bucket). */
type Reports = { all: UsageReport; view: UsageReport };
type Load = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; data: Reports; refreshing: boolean };

const RANGES = [
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
];

const CHART_HEIGHT = 240;

export function UsagePage() {
  const { project } = useSession();
  const [range, setRange] = useState('30');
  const [bucket, setBucket] = useState(ALL);
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const latest = useRef(0);

  const days = Number(range);
  const { from, to } = useMemo(() => usageRange(days), [days]);

  const reload = useCallback(async () => {
    const mine = ++latest.current;
    setLoad((l) => (l.state === 'ready' ? { ...l, refreshing: true } : { state: 'loading' }));
    try {
      const q = { from: isoDay(from), to: isoDay(to) };
      const all = api.usage(project.id, q);
      const view = bucket === ALL ? all : api.usage(project.id, { ...q, bucket });
      const data = { all: await all, view: await view };
      if (mine === latest.current) setLoad({ state: 'ready', data, refreshing: false });
    } catch (err) {
      if (mine === latest.current) setLoad({ state: 'error', message: errorMessage(err) });
    }
  }, [project.id, from, to, bucket]);
  useEffect(() => {
    void reload();
  }, [reload]);
  // Another project: start again from the whole project.
  useEffect(() => {
    setBucket(ALL);
    setLoad({ state: 'loading' });
  }, [project.id]);

  const names = load.state === 'ready' ? load.data.all.buckets.map((b) => b.name).sort() : [];
  if (bucket !== ALL && !names.includes(bucket)) names.push(bucket);
  const bucketControl = (
    <Select
      aria-label="Bucket"
      data-testid="usage-bucket"
      value={bucket}
      onChange={(v) => setBucket(v ?? ALL)}
      data={[{ value: ALL, label: 'All buckets' }, ...names.map((n) => ({ value: n, label: n }))]}
      allowDeselect={false}
      searchable={names.length > 8}
      disabled={load.state !== 'ready'}
      w={220}
      size="sm"
      comboboxProps={{ withinPortal: true }}
    />
  );
  const rangeControl = <SegmentedControl value={range} onChange={setRange} data={RANGES} aria-label="Time range" size="sm" />;
  const scope = bucket === ALL ? project.name : `bucket ${bucket}`;

  return (
    <>
      <PageHeader
        title="Usage"
        description={`What ${scope} stores, and its requests and traffic per day (UTC).`}
        actions={
          <>
            {bucketControl}
            {rangeControl}
          </>
        }
      />
      {load.state === 'loading' && (
        <>
          <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} mb="lg">
            {[0, 1, 2, 3].map((i) => (
              <Skeleton key={i} height={92} radius="md" />
            ))}
          </SimpleGrid>
          <Skeleton height={CHART_HEIGHT + 110} radius="md" />
        </>
      )}
      {load.state === 'error' && <LoadError what="usage" message={load.message} onRetry={reload} />}
      {load.state === 'ready' && (
        <UsageView
          reports={load.data}
          refreshing={load.refreshing}
          bucket={bucket === ALL ? null : bucket}
          onBucket={(b) => setBucket(b ?? ALL)}
          from={from}
          days={days}
        />
      )}
      {load.state === 'ready' && <TokenUsage projectId={project.id} from={isoDay(from)} to={isoDay(to)} />}
    </>
  );
}

/** Requests and traffic per token over the range (temporary credentials count as their token). */
function TokenUsage({ projectId, from, to }: { projectId: string; from: string; to: string }) {
  const [rows, setRows] = useState<TokenUsageRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api.usageByToken(projectId, { from, to }).then(
      (r) => live && setRows([...r.tokens].sort((a, b) => total(b) - total(a))),
      (err) => live && setError(errorMessage(err)),
    );
    return () => {
      live = false;
    };
  }, [projectId, from, to]);
  return (
    <Paper withBorder radius="md" mt="lg">
      <Group p="lg" pb="xs">
        <Title order={2} size="h4">
          By token
        </Title>
      </Group>
      {error && (
        <Text c="red" size="sm" px="lg" pb="lg" role="alert">
          {error}
        </Text>
      )}
      {rows && rows.length === 0 && (
        <Text c="dimmed" size="sm" px="lg" pb="lg">
          No requests in this range.
        </Text>
      )}
      {rows && rows.length > 0 && (
        <Table.ScrollContainer type="native" minWidth={620}>
          <Table verticalSpacing="sm" data-testid="usage-tokens">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Token</Table.Th>
                <Table.Th ta="right">Reads</Table.Th>
                <Table.Th ta="right">Writes</Table.Th>
                <Table.Th ta="right">Lists</Table.Th>
                <Table.Th ta="right">Deletes</Table.Th>
                <Table.Th ta="right">Other</Table.Th>
                <Table.Th ta="right">In</Table.Th>
                <Table.Th ta="right">Out</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((t) => (
                <Table.Tr key={t.tokenId} data-testid="usage-token-row" data-token-name={t.name ?? ''}>
                  <Table.Td fw={500}>{t.tokenId === '' ? <Text span c="dimmed" size="sm">Console sessions</Text> : (t.name ?? t.tokenId)}</Table.Td>
                  <Table.Td ta="right">{formatCount(t.requests.read)}</Table.Td>
                  <Table.Td ta="right">{formatCount(t.requests.write)}</Table.Td>
                  <Table.Td ta="right">{formatCount(t.requests.list)}</Table.Td>
                  <Table.Td ta="right">{formatCount(t.requests.delete)}</Table.Td>
                  <Table.Td ta="right">{formatCount(t.requests.other)}</Table.Td>
                  <Table.Td ta="right">{formatBytes(t.bytesIn)}</Table.Td>
                  <Table.Td ta="right">{formatBytes(t.bytesOut)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Paper>
  );
}

type TokenUsageRow = Awaited<ReturnType<typeof api.usageByToken>>['tokens'][number];

function total(t: TokenUsageRow): number {
  return t.requests.read + t.requests.write + t.requests.list + t.requests.delete + t.requests.other;
}

function UsageView({
  reports,
  refreshing,
  bucket,
  onBucket,
  from,
  days,
}: {
  reports: Reports;
  refreshing: boolean;
  bucket: string | null;
  onBucket: (b: string | null) => void;
  from: Date;
  days: number;
}) {
  const { project } = useSession();
  const bucketsLink = useLinkProps({ name: 'buckets', projectId: project.id });
  const tokensLink = useLinkProps({ name: 'tokens', projectId: project.id });
  const bucketLink = useLinkProps(bucket ? { name: 'bucket', projectId: project.id, bucket, prefix: '' } : { name: 'buckets', projectId: project.id });
  const { all, view } = reports;
  const points = useMemo(() => usageSeries(view, from, days), [view, from, days]);
  const totals = useMemo(() => usageTotals(points), [points]);
  const allTotals = useMemo(() => usageTotals(usageSeries(all, from, days)), [all, from, days]);

  const nothing = all.current.objects === 0 && all.current.bytes === 0 && allTotals.requests === 0 && all.buckets.length === 0;
  if (nothing) {
    return (
      <Paper withBorder radius="md" py={48} px="md" data-testid="usage-empty">
        <EmptyState
          icon={<IconChartBar size={32} />}
          withIndicatorBackground
          title="No usage yet"
          description="Usage appears here once the project stores objects or receives requests. Create a bucket and upload a file, or connect a client with an API token."
        >
          <EmptyState.Actions>
            <Button component="a" {...bucketsLink}>
              Go to buckets
            </Button>
            <Button component="a" {...tokensLink} variant="default">
              Create an API token
            </Button>
          </EmptyState.Actions>
        </EmptyState>
      </Paper>
    );
  }

  const where = bucket ? `"${bucket}"` : 'this project';
  const change = storedChange(points);
  const storedEmpty =
    change === null || (totals.peakStored === 0 && view.current.bytes === 0)
      ? {
          title: bucket ? `"${bucket}" stores nothing in these ${days} days` : `Nothing stored in these ${days} days`,
          description: bucket
            ? 'Upload files to it on its page or with an S3 client; the chart fills in from the day they arrive.'
            : 'Create a bucket and upload files, on the Buckets page or with an S3 client; the chart fills in from the day they arrive.',
          action: (
            <Button component="a" size="xs" variant="light" mt={4} {...bucketLink}>
              {bucket ? `Open ${bucket}` : 'Go to buckets'}
            </Button>
          ),
        }
      : null;
  const requestsEmpty =
    totals.requests === 0
      ? {
          title: `No requests to ${where} in the last ${days} days`,
          description: 'Requests from S3 clients, SDKs and this console count here a few seconds after they are made.',
        }
      : null;
  const transferEmpty =
    totals.bytesIn + totals.bytesOut === 0
      ? { title: `No data in or out of ${where} in the last ${days} days`, description: 'Uploads count as data in, downloads as data out.' }
      : null;

  const stored = (
    <Box ta="right" data-testid="usage-stored-caption">
      <Text fw={700} fz="lg" lh={1.2}>
        {formatBytes(view.current.bytes)}
      </Text>
      <Text size="xs" c="dimmed">
        {formatCount(view.current.objects)} {view.current.objects === 1 ? 'object' : 'objects'} now
        {!storedEmpty && change && change.first.day !== change.last.day && change.first.Stored !== null && change.last.Stored !== null
          ? ` · ${signedBytes(change.last.Stored - change.first.Stored)} since ${change.first.label}`
          : ''}
      </Text>
    </Box>
  );

  const storedTicks = byteTicks(Math.max(totals.peakStored, view.current.bytes));
  const transferTicks = byteTicks(Math.max(0, ...points.map((p) => Math.max(p['Bytes in'], p['Bytes out']))));
  const maxBucket = Math.max(1, ...all.buckets.map((b) => b.bytes));
  return (
    <Box style={{ opacity: refreshing ? 0.6 : 1, transition: 'opacity 150ms' }} aria-busy={refreshing} data-testid="usage-view" data-bucket={bucket ?? ''}>
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} mb="lg">
        <Stat label="Stored now" value={formatBytes(view.current.bytes)} testId="usage-bytes" />
        <Stat label="Objects now" value={formatCount(view.current.objects)} testId="usage-objects" />
        <Stat label={`Requests, last ${days} days`} value={formatCount(totals.requests)} testId="usage-requests" />
        <Stat label={`Data in / out, last ${days} days`} value={`${formatBytes(totals.bytesIn)} / ${formatBytes(totals.bytesOut)}`} testId="usage-traffic" />
      </SimpleGrid>

      <Box mb="lg">
        <ChartPanel
          title="Stored bytes over time"
          description={`What ${where} held at the end of each day (UTC); today is what it holds now. A day without changes keeps the day before's figure.`}
          aside={stored}
          empty={storedEmpty}
          height={CHART_HEIGHT}
          testId="usage-stored-chart"
        >
          <AreaChart
            h={CHART_HEIGHT}
            data={points}
            dataKey="label"
            series={[{ name: 'Stored', color: 'indigo.6' }]}
            curveType="linear"
            connectNulls={false}
            withDots={days <= 30}
            dotProps={{ r: 2.5, strokeWidth: 1.5 }}
            tickLine="y"
            valueFormatter={(v) => formatBytes(v)}
            yAxisProps={{ width: 72, domain: [0, storedTicks[storedTicks.length - 1]], ticks: storedTicks }}
            xAxisProps={{ minTickGap: 16 }}
            aria-label={`Stored bytes per day, ${where}`}
          />
        </ChartPanel>
      </Box>

      <SimpleGrid cols={{ base: 1, lg: 2 }} mb="lg">
        <ChartPanel
          title="Requests per day"
          description="By kind: read (GET, HEAD), write (PUT, uploads), list, delete, other."
          empty={requestsEmpty}
          height={CHART_HEIGHT}
          testId="usage-requests-chart"
        >
          <BarChart
            h={CHART_HEIGHT}
            data={points}
            dataKey="label"
            type="stacked"
            withLegend
            legendProps={{ verticalAlign: 'bottom', height: 40 }}
            tickLine="y"
            valueFormatter={(v) => formatCount(v)}
            xAxisProps={{ minTickGap: 16 }}
            series={[
              { name: 'Read', color: 'blue.6' },
              { name: 'Write', color: 'teal.6' },
              { name: 'List', color: 'grape.5' },
              { name: 'Delete', color: 'red.5' },
              { name: 'Other', color: 'gray.5' },
            ]}
            aria-label={`Requests per day, ${where}`}
          />
        </ChartPanel>
        <ChartPanel
          title="Data transfer per day"
          description={`Bytes uploaded to (in) and downloaded from (out) ${where}.`}
          empty={transferEmpty}
          height={CHART_HEIGHT}
          testId="usage-transfer-chart"
        >
          <BarChart
            h={CHART_HEIGHT}
            data={points}
            dataKey="label"
            withLegend
            legendProps={{ verticalAlign: 'bottom', height: 40 }}
            tickLine="y"
            valueFormatter={(v) => formatBytes(v)}
            yAxisProps={{ width: 72, domain: [0, transferTicks[transferTicks.length - 1]], ticks: transferTicks }}
            xAxisProps={{ minTickGap: 16 }}
            series={[
              { name: 'Bytes in', color: 'teal.6' },
              { name: 'Bytes out', color: 'blue.6' },
            ]}
            aria-label={`Data transfer per day, ${where}`}
          />
        </ChartPanel>
      </SimpleGrid>

      <Paper withBorder radius="md">
        <Group p="lg" pb="xs" justify="space-between">
          <Title order={2} size="h4">
            By bucket
          </Title>
          {bucket && (
            <Anchor component="button" type="button" size="sm" onClick={() => onBucket(null)}>
              Show all buckets
            </Anchor>
          )}
        </Group>
        {all.buckets.length === 0 ? (
          <Text c="dimmed" size="sm" px="lg" pb="lg">
            No buckets in this project.
          </Text>
        ) : (
          <Table.ScrollContainer type="native" minWidth={520}>
            <Table verticalSpacing="sm" data-testid="usage-buckets">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Bucket</Table.Th>
                  <Table.Th ta="right">Objects</Table.Th>
                  <Table.Th ta="right">Size</Table.Th>
                  <Table.Th w="30%">Share of storage</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {[...all.buckets]
                  .sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name))
                  .map((b) => (
                    <Table.Tr key={b.name} bg={b.name === bucket ? 'var(--mantine-primary-color-light)' : undefined} aria-selected={b.name === bucket}>
                      <Table.Td fw={500}>
                        <Anchor component="button" type="button" fw={500} size="sm" onClick={() => onBucket(b.name)} title={`Show the usage of ${b.name}`}>
                          {b.name}
                        </Anchor>
                      </Table.Td>
                      <Table.Td ta="right">
                        {formatCount(b.objects)}
                        {b.noncurrentVersions > 0 && (
                          <Text size="xs" c="dimmed" data-testid="usage-old-versions">
                            incl. {formatCount(b.noncurrentVersions)} old {b.noncurrentVersions === 1 ? 'version' : 'versions'} ({formatBytes(b.noncurrentBytes)})
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td ta="right">{formatBytes(b.bytes)}</Table.Td>
                      <Table.Td>
                        <Progress value={(b.bytes / maxBucket) * 100} size="md" aria-label={`${b.name} size relative to the largest bucket`} />
                      </Table.Td>
                    </Table.Tr>
                  ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Paper>
    </Box>
  );
}

function signedBytes(n: number): string {
  if (n === 0) return 'no change';
  return `${n > 0 ? '+' : '−'}${formatBytes(Math.abs(n))}`;
}

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <Paper withBorder radius="md" p="md">
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text fz={24} fw={700} mt={4} data-testid={testId}>
        {value}
      </Text>
    </Paper>
  );
}
