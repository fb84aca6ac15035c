import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Alert, Button, Group, NumberInput, Progress, SimpleGrid, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { ApiError, errorMessage, type QuotaReport, type StorageQuota } from '../api';
import { formatBytes, formatCount } from '../format';

// A storage quota (bytes and objects), with what is stored now: the project's in Settings, a
// bucket's in the bucket list. Empty fields mean no limit; writes past a limit are refused.

const GiB = 1024 ** 3;

function share(used: number, max: number | null): number | null {
  return max === null ? null : Math.min(100, (used / max) * 100);
}

export function QuotaForm({ load, save, testId }: { load: () => Promise<QuotaReport>; save?: (q: StorageQuota) => Promise<QuotaReport>; testId: string }) {
  const [report, setReport] = useState<QuotaReport | null>(null);
  const [gib, setGib] = useState<number | string>('');
  const [objects, setObjects] = useState<number | string>('');
  const [errors, setErrors] = useState<{ maxBytes?: string; maxObjects?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);

  const show = useCallback((r: QuotaReport) => {
    setReport(r);
    setGib(r.quota?.maxBytes != null ? Number((r.quota.maxBytes / GiB).toFixed(3)) : '');
    setObjects(r.quota?.maxObjects ?? '');
  }, []);
  useEffect(() => {
    load().then(show, (err) => setErrors({ form: errorMessage(err) }));
  }, [load, show]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const bytes = gib === '' ? null : Math.round(Number(gib) * GiB);
    const count = objects === '' ? null : Number(objects);
    const found: typeof errors = {};
    if (bytes !== null && (!Number.isFinite(bytes) || bytes < 1)) found.maxBytes = 'Enter a size above 0, or leave it empty for no limit.';
    if (count !== null && (!Number.isInteger(count) || count < 1)) found.maxObjects = 'Enter a whole number from 1, or leave it empty for no limit.';
    setErrors(found);
    if (found.maxBytes || found.maxObjects || !save) return;
    setBusy(true);
    try {
      show(await save({ maxBytes: bytes, maxObjects: count }));
      notifications.show({ color: 'teal', message: bytes === null && count === null ? 'Quota removed.' : 'Quota saved.' });
    } catch (err) {
      setErrors(err instanceof ApiError && (err.field === 'maxBytes' || err.field === 'maxObjects') ? { [err.field]: err.message } : { form: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  }

  const used = report?.used;
  const byteShare = used ? share(used.bytes, report.quota?.maxBytes ?? null) : null;
  const objectShare = used ? share(used.objects, report.quota?.maxObjects ?? null) : null;
  return (
    <form onSubmit={submit} noValidate data-testid={testId}>
      <Stack gap="sm">
        {used && (
          <Text size="sm" data-testid={`${testId}-used`}>
            Stored now: <b>{formatBytes(used.bytes)}</b> in <b>{formatCount(used.objects)}</b> objects
            {report.quota ? '' : ' — no quota.'}
          </Text>
        )}
        {byteShare !== null && <Progress value={byteShare} color={byteShare >= 90 ? 'red' : 'blue'} aria-label="Share of the byte quota used" />}
        {objectShare !== null && <Progress value={objectShare} color={objectShare >= 90 ? 'red' : 'teal'} aria-label="Share of the object quota used" />}
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <NumberInput
            label="Most bytes (GiB)"
            description="Empty: no limit."
            min={0}
            decimalScale={3}
            allowNegative={false}
            value={gib}
            onChange={setGib}
            error={errors.maxBytes}
            disabled={!save}
            data-testid={`${testId}-bytes`}
          />
          <NumberInput
            label="Most objects"
            description="Empty: no limit."
            min={1}
            allowDecimal={false}
            allowNegative={false}
            value={objects}
            onChange={setObjects}
            error={errors.maxObjects}
            disabled={!save}
            data-testid={`${testId}-objects`}
          />
        </SimpleGrid>
        {errors.form && (
          <Alert color="red" variant="light" role="alert">
            {errors.form}
          </Alert>
        )}
        {save && (
          <Group justify="flex-end">
            <Button type="submit" loading={busy} data-testid={`${testId}-save`}>
              Save quota
            </Button>
          </Group>
        )}
      </Stack>
    </form>
  );
}
