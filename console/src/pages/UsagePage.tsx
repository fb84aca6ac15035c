import { useCallback, useEffect, useMemo, useState } from 'react';
import { Button, EmptyState, Group, Paper, Progress, SegmentedControl, SimpleGrid, Skeleton, Table, Text, Title } from '@mantine/core';
import { BarChart } from '@mantine/charts';
import { IconChartBar } from '@tabler/icons-react';
import { api, errorMessage, type UsageReport } from '../api';
import { PageHeader } from '../components/PageHeader';
import { LoadError } from '../components/LoadError';
import { formatBytes, formatCount, isoDay } from '../format';
import { useLinkProps } from '../router';
import { useSession } from '../session';

type Load = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; data: UsageReport };

const RANGES = [
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
];

const DAY_MS = 86_400_000;

/** Every day in [from, to] with the report's numbers, zeros where it has none. */
function fillDays(report: UsageReport, from: Date, days: number) {
  const byDate = new Map(report.days.map((d) => [d.date, d]));
  return Array.from({ length: days }, (_, i) => {
    const date = isoDay(new Date(from.getTime() + i * DAY_MS));
    const d = byDate.get(date);
    const r = d?.requests ?? { read: 0, write: 0, list: 0, delete: 0, other: 0 };
    return {
      date: date.slice(5),
      Read: r.read,
      Write: r.write,
      List: r.list,
      Delete: r.delete,
      Other: r.other,
      'Bytes in': d?.bytesIn ?? 0,
      'Bytes out': d?.bytesOut ?? 0,
    };
  });
}

export function UsagePage() {
  const { project } = useSession();
  const [range, setRange] = useState('30');
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const buckets = useLinkProps({ name: 'buckets', projectId: project.id });
  const tokens = useLinkProps({ name: 'tokens', projectId: project.id });

  const days = Number(range);
  const { from, to } = useMemo(() => {
    const now = new Date();
    const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    return { from: new Date(end.getTime() - (days - 1) * DAY_MS), to: end };
  }, [days]);

  const reload = useCallback(async () => {
    try {
      setLoad({ state: 'ready', data: await api.usage(project.id, { from: isoDay(from), to: isoDay(to) }) });
    } catch (err) {
      setLoad({ state: 'error', message: errorMessage(err) });
    }
  }, [project.id, from, to]);
  useEffect(() => {
    setLoad({ state: 'loading' });
    void reload();
  }, [reload]);

  const rangeControl = <SegmentedControl value={range} onChange={setRange} data={RANGES} aria-label="Time range" size="sm" />;

  return (
    <>
      <PageHeader title="Usage" description={`What ${project.name} stores now, and its requests and traffic per day (UTC).`} actions={rangeControl} />
      {load.state === 'loading' && (
        <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
          {[0, 1, 2, 3].map((i) => (
            <Skeleton key={i} height={92} radius="md" />
          ))}
        </SimpleGrid>
      )}
      {load.state === 'error' && <LoadError what="usage" message={load.message} onRetry={reload} />}
      {load.state === 'ready' && <UsageView report={load.data} from={from} days={days} bucketsLink={buckets} tokensLink={tokens} />}
    </>
  );
}

function UsageView({
  report,
  from,
  days,
  bucketsLink,
  tokensLink,
}: {
  report: UsageReport;
  from: Date;
  days: number;
  bucketsLink: ReturnType<typeof useLinkProps>;
  tokensLink: ReturnType<typeof useLinkProps>;
}) {
  const series = useMemo(() => fillDays(report, from, days), [report, from, days]);
  const totals = useMemo(() => {
    let requests = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    for (const d of report.days) {
      const r = d.requests;
      requests += r.read + r.write + r.list + r.delete + r.other;
      bytesIn += d.bytesIn;
      bytesOut += d.bytesOut;
    }
    return { requests, bytesIn, bytesOut };
  }, [report]);

  const nothing = report.current.objects === 0 && report.current.bytes === 0 && totals.requests === 0 && report.buckets.length === 0;
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

  const maxBucket = Math.max(1, ...report.buckets.map((b) => b.bytes));
  return (
    <>
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} mb="lg">
        <Stat label="Stored now" value={formatBytes(report.current.bytes)} testId="usage-bytes" />
        <Stat label="Objects now" value={formatCount(report.current.objects)} testId="usage-objects" />
        <Stat label={`Requests, last ${days} days`} value={formatCount(totals.requests)} testId="usage-requests" />
        <Stat label={`Data in / out, last ${days} days`} value={`${formatBytes(totals.bytesIn)} / ${formatBytes(totals.bytesOut)}`} testId="usage-traffic" />
      </SimpleGrid>

      <SimpleGrid cols={{ base: 1, lg: 2 }} mb="lg">
        <Paper withBorder radius="md" p="lg">
          <Title order={2} size="h4" mb={4}>
            Requests per day
          </Title>
          <Text size="sm" c="dimmed" mb="md">
            By kind: read (GET, HEAD), write (PUT, uploads), list, delete, other.
          </Text>
          <BarChart
            h={240}
            data={series}
            dataKey="date"
            type="stacked"
            withLegend
            legendProps={{ verticalAlign: 'bottom', height: 40 }}
            tickLine="y"
            valueFormatter={(v) => formatCount(v)}
            series={[
              { name: 'Read', color: 'blue.6' },
              { name: 'Write', color: 'teal.6' },
              { name: 'List', color: 'grape.5' },
              { name: 'Delete', color: 'red.5' },
              { name: 'Other', color: 'gray.5' },
            ]}
            aria-label="Requests per day"
          />
        </Paper>
        <Paper withBorder radius="md" p="lg">
          <Title order={2} size="h4" mb={4}>
            Data transfer per day
          </Title>
          <Text size="sm" c="dimmed" mb="md">
            Bytes uploaded to (in) and downloaded from (out) this project.
          </Text>
          <BarChart
            h={240}
            data={series}
            dataKey="date"
            withLegend
            legendProps={{ verticalAlign: 'bottom', height: 40 }}
            tickLine="y"
            valueFormatter={(v) => formatBytes(v)}
            series={[
              { name: 'Bytes in', color: 'teal.6' },
              { name: 'Bytes out', color: 'blue.6' },
            ]}
            aria-label="Data transfer per day"
          />
        </Paper>
      </SimpleGrid>

      <Paper withBorder radius="md">
        <Group p="lg" pb="xs">
          <Title order={2} size="h4">
            By bucket
          </Title>
        </Group>
        {report.buckets.length === 0 ? (
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
                {[...report.buckets]
                  .sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name))
                  .map((b) => (
                    <Table.Tr key={b.name}>
                      <Table.Td fw={500}>{b.name}</Table.Td>
                      <Table.Td ta="right">{formatCount(b.objects)}</Table.Td>
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
    </>
  );
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
