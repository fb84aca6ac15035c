import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * After a submit fails, focus moves to the form's first invalid field (the one the person has to
 * fix), once the error messages have rendered: call focusFirstInvalid() after setting them.
 */
const INVALID = '[aria-invalid="true"], .mantine-InputWrapper-root:has(.mantine-InputWrapper-error) :is(input, textarea)';

export function useFocusFirstInvalid<T extends HTMLElement = HTMLFormElement>() {
  const formRef = useRef<T>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (attempt === 0) return;
    // Inputs mark themselves aria-invalid; some (a password field) only show the error beside them.
    formRef.current?.querySelector<HTMLElement>(INVALID)?.focus();
  }, [attempt]);
  const focusFirstInvalid = useCallback(() => setAttempt((n) => n + 1), []);
  return { formRef, focusFirstInvalid };
}
