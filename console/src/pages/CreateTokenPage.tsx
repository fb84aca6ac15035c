import { useEffect, useMemo, useState, type FormEvent } from 'react';
import {
  Alert,
  Anchor,
  Button,
  Checkbox,
  Group,
  MultiSelect,
  NumberInput,
  Paper,
  Radio,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
  Chip,
  TagsInput,
} from '@mantine/core';
import { IconArrowLeft, IconCheck, IconMinus } from '@tabler/icons-react';
import { api, ApiError, errorMessage, type IssuedToken } from '../api';
import { PageHeader } from '../components/PageHeader';
import { CredentialsPanel } from '../components/CredentialsPanel';
import { CAPABILITIES, PERMISSIONS, type PermissionLevel } from '../permissions';
import { formatDate } from '../format';
import { useLinkProps, useRouter } from '../router';
import { useSession } from '../session';
import { useBuckets } from './BucketsPage';
import { useFocusFirstInvalid } from '../components/focusInvalid';
import { Section } from '../components/Section';

const EXPIRY_PRESETS = [7, 30, 90, 365];
const MAX_DAYS = 365;

type Errors = Partial<Record<'name' | 'description' | 'permission' | 'bucketScope' | 'expiresInDays' | 'allowedNetworks' | 'rateLimit' | 'form', string>>;

const FIELDS = ['name', 'description', 'permission', 'bucketScope', 'expiresInDays', 'allowedNetworks', 'rateLimit'];
const MAX_RATE = 100_000;

/** A prefix entry as typed: "bucket/prefix/", whose bucket exists; a reason otherwise. */
function prefixProblem(entry: string, buckets: string[]): string | null {
  const slash = entry.indexOf('/');
  if (slash <= 0) return `"${entry}" is not bucket/prefix: start with a bucket name and a slash, e.g. photos/2024/.`;
  if (slash === entry.length - 1) return `"${entry}" has an empty prefix: choose the bucket above for all of it, or add a prefix after the slash.`;
  if (!buckets.includes(entry.slice(0, slash))) return `"${entry}": there is no bucket ${entry.slice(0, slash)} in this project.`;
  return null;
}

/** A rough check of an address or CIDR network as typed (the server checks exactly). */
function networkLooksValid(entry: string): boolean {
  return /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry.trim()) && /[.:]/.test(entry);
}

/** "+ Create Token": the form, then the one-time "Credentials created" screen. */
export function CreateTokenPage() {
  const [issued, setIssued] = useState<IssuedToken | null>(null);
  return issued ? <CredentialsCreated issued={issued} /> : <CreateTokenForm onIssued={setIssued} />;
}

function CreateTokenForm({ onIssued }: { onIssued: (t: IssuedToken) => void }) {
  const { project } = useSession();
  const { navigate } = useRouter();
  const back = useLinkProps({ name: 'tokens', projectId: project.id });
  const { load: buckets } = useBuckets(project.id);
  const maxDays = Math.min(MAX_DAYS, project.maxTokenDays ?? MAX_DAYS);
  // A member acts with Object Read & Write, and no one hands out more than they have.
  const member = project.role === 'member';
  const allowed = (level: PermissionLevel) => !member || level === 'object-rw' || level === 'object-ro';

  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [permission, setPermission] = useState<PermissionLevel>('object-rw');
  const [scope, setScope] = useState<'all' | 'specific'>('all');
  const [scopeBuckets, setScopeBuckets] = useState<string[]>([]);
  const [days, setDays] = useState<number | string>(Math.min(90, maxDays));
  const [billing, setBilling] = useState(false);
  const [prefixes, setPrefixes] = useState<string[]>([]);
  const [networks, setNetworks] = useState<string[]>([]);
  const [rate, setRate] = useState<number | string>('');
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const { formRef, focusFirstInvalid } = useFocusFirstInvalid();

  const bucketOptions = useMemo(() => (buckets.state === 'ready' ? buckets.data.map((b) => b.name) : []), [buckets]);
  const dayCount = typeof days === 'number' ? days : Number.parseInt(days, 10);
  const expiresOn = Number.isInteger(dayCount) && dayCount >= 1 && dayCount <= maxDays ? new Date(Date.now() + dayCount * 86_400_000) : null;

  useEffect(() => {
    // A bucket deleted since the list loaded drops out of the selection.
    setScopeBuckets((s) => s.filter((b) => bucketOptions.includes(b)));
  }, [bucketOptions]);

  const clearError = (field: keyof Errors) => setErrors((e) => (e[field] || e.form ? { ...e, [field]: undefined, form: undefined } : e));

  function validate(): Errors {
    const e: Errors = {};
    if (!name.trim()) e.name = 'Give the token a name, e.g. the app or person that will use it.';
    else if (name.trim().length > 100) e.name = 'A token name is at most 100 characters.';
    if (description.length > 1000) e.description = 'A description is at most 1000 characters.';
    if (scope === 'specific' && scopeBuckets.length === 0 && prefixes.length === 0) e.bucketScope = 'Choose at least one bucket or prefix, or allow all buckets.';
    const badPrefix = scope === 'specific' ? prefixes.map((p) => prefixProblem(p, bucketOptions)).find(Boolean) : null;
    if (badPrefix) e.bucketScope = badPrefix;
    const badNet = networks.find((n) => !networkLooksValid(n));
    if (badNet) e.allowedNetworks = `"${badNet}" is not an IPv4 or IPv6 address or CIDR network (e.g. 203.0.113.0/24).`;
    const rateCount = typeof rate === 'number' ? rate : rate === '' ? null : Number.parseInt(rate, 10);
    if (rateCount !== null && (!Number.isInteger(rateCount) || rateCount < 1 || rateCount > MAX_RATE)) e.rateLimit = `Enter 1 to ${MAX_RATE} requests a minute, or leave it empty for no limit.`;
    if (!Number.isInteger(dayCount) || dayCount < 1 || dayCount > maxDays) e.expiresInDays = `Enter a whole number of days from 1 to ${maxDays}.`;
    return e;
  }

  async function submit(ev: FormEvent) {
    ev.preventDefault();
    const e = validate();
    setErrors(e);
    if (Object.values(e).some(Boolean)) {
      focusFirstInvalid();
      return;
    }
    setBusy(true);
    try {
      const reply = await api.createToken(project.id, {
        name: name.trim(),
        description: description.trim() || undefined,
        permission,
        bucketScope: scope === 'all' ? null : [...scopeBuckets, ...prefixes],
        expiresInDays: dayCount,
        billing,
        allowedNetworks: networks.length ? networks : null,
        rateLimit: rate === '' ? null : Number(rate),
      });
      // No toast: the next screen says it, and a toast there would cover the secret.
      onIssued(reply);
    } catch (err) {
      if (err instanceof ApiError && err.field && FIELDS.includes(err.field)) {
        setErrors({ [err.field]: err.message });
        focusFirstInvalid();
      } else {
        setErrors({ form: errorMessage(err) });
      }
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-label="Create API token" ref={formRef}>
      <PageHeader
        above={
          <Anchor {...back} size="sm">
            <Group gap={4}>
              <IconArrowLeft size={14} /> API Tokens
            </Group>
          </Anchor>
        }
        title="Create API token"
        description="A token gives S3 clients an access key pair, and the REST API a bearer token, with the permission and buckets you choose here."
      />
      <Stack gap="lg">
        <Section title="Token">
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <TextInput
              label="Token name"
              placeholder="backup-job"
              required
              value={name}
              maxLength={100}
              onChange={(e) => {
                setName(e.currentTarget.value);
                clearError('name');
              }}
              error={errors.name}
              data-testid="token-name"
              autoFocus
            />
            <Textarea
              label="Description"
              description="Optional: what uses it, who to ask."
              value={description}
              onChange={(e) => {
                setDescription(e.currentTarget.value);
                clearError('description');
              }}
              error={errors.description}
              autosize
              minRows={1}
              maxRows={4}
              data-testid="token-description"
            />
          </SimpleGrid>
        </Section>

        <Section title="Object Storage permission" description="What the token may do. Bucket levels manage buckets; object levels work inside buckets.">
          <Radio.Group value={permission} onChange={(v) => setPermission(v as PermissionLevel)} error={errors.permission} aria-label="Object Storage permission">
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
              {PERMISSIONS.map((p) => (
                <Radio.Card
                  key={p.level}
                  value={p.level}
                  radius="md"
                  p="md"
                  data-testid={`permission-${p.level}`}
                  // One tab stop for the group (the chosen card); arrow keys move between cards.
                  tabIndex={p.level === permission ? 0 : -1}
                  disabled={!allowed(p.level)} style={
                    p.level === permission
                      ? { borderColor: 'var(--mantine-color-blue-6)', background: 'var(--mantine-color-blue-0)' }
                      : !allowed(p.level)
                        ? { opacity: 0.5, cursor: 'not-allowed' }
                        : undefined
                  }>
                  <Group wrap="nowrap" align="flex-start" gap="sm">
                    <Radio.Indicator mt={2} />
                    <div>
                      <Text fw={600} size="sm">
                        {p.label}
                      </Text>
                      <Text size="sm" c="dimmed" mt={2}>
                        {p.allows}
                      </Text>
                    </div>
                  </Group>
                </Radio.Card>
              ))}
            </SimpleGrid>
          </Radio.Group>
          {member && (
            <Text size="sm" c="dimmed" mt="xs">
              As a member of this project you can create object-level tokens; admin tokens are for project owners.
            </Text>
          )}
          <PermissionTable selected={permission} />
        </Section>

        <Section title="Bucket scope" description="Which of this project's buckets the token reaches.">
          <Radio.Group value={scope} onChange={(v) => {
              setScope(v as 'all' | 'specific');
              clearError('bucketScope');
            }} aria-label="Bucket scope">
            <Stack gap="sm">
              <Radio value="all" label="All buckets" description="Every bucket in the project, including ones created later." data-testid="scope-all" />
              <Radio value="specific" label="Specific buckets" description="Only the buckets chosen below." data-testid="scope-specific" />
            </Stack>
          </Radio.Group>
          {scope === 'specific' && (
            <MultiSelect
              mt="md"
              label="Buckets"
              placeholder={bucketOptions.length ? 'Choose buckets' : undefined}
              data={bucketOptions}
              value={scopeBuckets}
              onChange={(v) => {
                setScopeBuckets(v);
                clearError('bucketScope');
              }}
              searchable
              clearable
              nothingFoundMessage="No bucket by that name"
              error={errors.bucketScope ?? (buckets.state === 'ready' && bucketOptions.length === 0 ? 'This project has no buckets yet: create one first, or choose All buckets.' : buckets.state === 'error' ? `Could not load buckets: ${buckets.message}` : undefined)}
              data-testid="scope-buckets"
              maw={560}
            />
          )}
          {scope === 'specific' && (
            <TagsInput
              mt="md"
              label="Key prefixes"
              description="Optional: bucket/prefix entries (e.g. photos/2024/). The token then reaches only keys under each prefix, and its listings show only those keys. Press Enter after each."
              placeholder={bucketOptions.length ? `${bucketOptions[0]}/prefix/` : 'bucket/prefix/'}
              value={prefixes}
              onChange={(v) => {
                setPrefixes(v.map((x) => x.trim()).filter(Boolean));
                clearError('bucketScope');
              }}
              splitChars={[',', ' ']}
              clearable
              data-testid="scope-prefixes"
              maw={560}
            />
          )}
        </Section>

        <Section title="Network and rate limits" description="Optional conditions checked on every S3 and REST request of the token.">
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <TagsInput
              label="Allowed networks"
              description="IPv4/IPv6 addresses or CIDR networks (e.g. 203.0.113.0/24, 2001:db8::/32). Empty: any address."
              placeholder="203.0.113.0/24"
              value={networks}
              onChange={(v) => {
                setNetworks(v.map((x) => x.trim()).filter(Boolean));
                clearError('allowedNetworks');
              }}
              splitChars={[',', ' ']}
              clearable
              error={errors.allowedNetworks}
              data-testid="token-networks"
            />
            <NumberInput
              label="Rate limit (requests a minute)"
              description="S3 answers 503 SlowDown beyond it, the REST API 429. Empty: no limit."
              min={1}
              max={MAX_RATE}
              clampBehavior="none"
              allowDecimal={false}
              allowNegative={false}
              value={rate}
              onChange={(v) => {
                setRate(v);
                clearError('rateLimit');
              }}
              error={errors.rateLimit}
              data-testid="token-rate-limit"
            />
          </SimpleGrid>
        </Section>

        <Section title="Expiry" description="After this the token stops working. You can revoke it any time before.">
          <Group align="flex-end" gap="md">
            <NumberInput
              label="Expires in (days)"
              min={1}
              max={maxDays}
              clampBehavior="none"
              allowDecimal={false}
              allowNegative={false}
              value={days}
              onChange={(v) => {
                setDays(v);
                clearError('expiresInDays');
              }}
              error={errors.expiresInDays}
              w={180}
              data-testid="token-expiry-days"
            />
            <Chip.Group multiple={false} value={String(dayCount)} onChange={(v) => {
                setDays(Number(v));
                clearError('expiresInDays');
              }}>
              <Group gap={6} pb={errors.expiresInDays ? 26 : 4} role="group" aria-label="Expiry presets">
                {EXPIRY_PRESETS.filter((d) => d <= maxDays).map((d) => (
                  <Chip key={d} value={String(d)} size="sm" variant="outline">
                    {d === 365 ? '1 year' : `${d} days`}
                  </Chip>
                ))}
              </Group>
            </Chip.Group>
          </Group>
          <Text size="sm" c="dimmed" mt="xs">
            {expiresOn ? `Expires on ${formatDate(expiresOn.toISOString())}.` : `Tokens in this project last 1 to ${maxDays} days.`}
          </Text>
        </Section>

        <Section title="Billing">
          <Checkbox
            label="Billing read"
            description="May read this project's usage (stored bytes, requests, traffic) through the API."
            checked={billing}
            onChange={(e) => setBilling(e.currentTarget.checked)}
            data-testid="token-billing"
          />
        </Section>

        {errors.form && (
          <Alert color="red" variant="light" role="alert" title="The token was not created">
            {errors.form}
          </Alert>
        )}
        <Group justify="flex-end" gap="sm">
          <Button variant="default" onClick={() => navigate({ name: 'tokens', projectId: project.id })}>
            Cancel
          </Button>
          <Button type="submit" loading={busy} data-testid="create-token-submit">
            Create Token
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function PermissionTable({ selected }: { selected: PermissionLevel }) {
  return (
    <Table.ScrollContainer type="native" minWidth={620} mt="md">
      <Table withTableBorder withColumnBorders fz="sm" verticalSpacing={6} data-testid="permission-table">
        <Table.Caption>What each permission allows. Object levels reach only the buckets in the token's scope.</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Allows</Table.Th>
            {PERMISSIONS.map((p) => (
              <Table.Th key={p.level} ta="center" bg={p.level === selected ? 'var(--mantine-color-blue-0)' : undefined}>
                {p.label}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {CAPABILITIES.map((c) => (
            <Table.Tr key={c.label}>
              <Table.Td>{c.label}</Table.Td>
              {PERMISSIONS.map((p) => {
                const yes = c.levels.includes(p.level);
                return (
                  <Table.Td key={p.level} ta="center" bg={p.level === selected ? 'var(--mantine-color-blue-0)' : undefined}>
                    {yes ? (
                      <Group gap={4} justify="center" wrap="nowrap">
                        <IconCheck size={16} color="var(--mantine-color-teal-7)" aria-label="yes" />
                        {c.note?.[p.level] && (
                          <Text span size="xs" c="dimmed">
                            {c.note[p.level]}
                          </Text>
                        )}
                      </Group>
                    ) : (
                      <IconMinus size={16} color="var(--mantine-color-gray-5)" aria-label="no" />
                    )}
                  </Table.Td>
                );
              })}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function CredentialsCreated({ issued }: { issued: IssuedToken }) {
  const { project } = useSession();
  const { navigate } = useRouter();
  const t = issued.token;
  return (
    <>
      <PageHeader
        title="Credentials created"
        description={
          <>
            Token <b>{t.name}</b> · {t.permissionLabel} · {t.bucketScope ? t.bucketScope.join(', ') : 'All buckets'} · expires {formatDate(t.expiresAt)}
          </>
        }
      />
      <CredentialsPanel issued={issued} />
      <Group justify="flex-end" mt="lg">
        <Button
          onClick={() => navigate({ name: 'tokens', projectId: project.id })}
          data-testid="credentials-done"
          // Wraps on a phone instead of being cut off.
          h="auto"
          py={8}
          styles={{ label: { whiteSpace: 'normal', textAlign: 'center' } }}
        >
          I have saved the secret — back to tokens
        </Button>
      </Group>
    </>
  );
}
